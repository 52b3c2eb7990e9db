import FoundationEssentials
import ReelPostgres
import ReelSupport

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
