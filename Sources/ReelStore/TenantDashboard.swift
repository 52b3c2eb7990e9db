import Foundation
import ReelPostgres
import ReelSupport

/// A chunk's analysis as the dashboard shows it: the whole analysis (times absolute) and what this job paid.
public struct ChunkAnalysisListing: Sendable {
    public var index: Int
    public var startSeconds: Double
    public var durationSeconds: Double
    /// `{analyzer, model, summary, scenes, cuts, usage}`, times from the source's start; `nil` until analyzed.
    public var analysis: JSONDocument?
    public var analyzedAt: Date?
    public var promptTokens: Int
    public var outputTokens: Int
    public var requests: Int
}

/// The queue at one moment of the recent past, per stage.
public struct QueueSample: Sendable, Equatable {
    public struct Counts: Sendable, Equatable {
        /// Created and not started yet.
        public var waiting = 0
        /// Started and not finished.
        public var running = 0
        /// Succeeded in the step that ends at this moment.
        public var completed = 0
    }
    public var time: Date
    public var stages: [String: Counts]
}

extension TenantStore {
    /// Every chunk of the newest generation of job `uid` with its full analysis and cost, in order.
    public func analyses(ofJob uid: String) async throws -> [ChunkAnalysisListing] {
        try await query(
            """
            SELECT c.chunk_index, c.start_seconds, c.duration_seconds, c.analysis::text, c.analyzed_at,
                   c.prompt_tokens, c.output_tokens, c.requests
            FROM video_chunks c
            WHERE c.job_id = (SELECT id FROM processing_jobs WHERE resource_uid = $1 ORDER BY generation DESC LIMIT 1)
            ORDER BY c.chunk_index
            """, [uid]
        ).map { row in
            ChunkAnalysisListing(
                index: try row.decode(at: 0), startSeconds: try row.decode(at: 1),
                durationSeconds: try row.decode(at: 2), analysis: try row.decodeIfPresent(at: 3),
                analyzedAt: try row.decodeIfPresent(at: 4), promptTokens: try row.decode(at: 5),
                outputTokens: try row.decode(at: 6), requests: try row.decode(at: 7))
        }
    }

    /// The tenant's queue every `step` over the last `window`, oldest first, rebuilt from the tasks' own times
    /// (created, started, finished): tasks of deleted jobs are gone, and a retried task counts from its last start.
    public func queueHistory(window: Duration, step: Duration) async throws -> [QueueSample] {
        let rows = try await query(
            """
            SELECT g.t, q.stage,
                   count(*) FILTER (WHERE q.created_at <= g.t AND coalesce(q.started_at, 'infinity') > g.t
                                    AND coalesce(q.finished_at, 'infinity') > g.t),
                   count(*) FILTER (WHERE q.started_at <= g.t AND coalesce(q.finished_at, 'infinity') > g.t),
                   count(*) FILTER (WHERE q.state = 'succeeded' AND q.finished_at <= g.t
                                    AND q.finished_at > g.t - make_interval(secs => $2))
            FROM generate_series(now() - make_interval(secs => $1), now(), make_interval(secs => $2)) AS g(t)
            JOIN job_queue q ON q.created_at <= g.t
                AND coalesce(q.finished_at, 'infinity') > g.t - make_interval(secs => $2)
            GROUP BY g.t, q.stage
            UNION ALL
            SELECT g.t, NULL, 0, 0, 0
            FROM generate_series(now() - make_interval(secs => $1), now(), make_interval(secs => $2)) AS g(t)
            ORDER BY 1
            """, [window.seconds, step.seconds])
        var samples: [QueueSample] = []
        for row in rows {
            let time: Date = try row.decode(at: 0)
            if samples.last?.time != time { samples.append(QueueSample(time: time, stages: [:])) }
            guard let stage: String = try row.decodeIfPresent(at: 1) else { continue }
            samples[samples.count - 1].stages[stage] = QueueSample.Counts(
                waiting: try row.decode(at: 2), running: try row.decode(at: 3), completed: try row.decode(at: 4))
        }
        return samples
    }
}
