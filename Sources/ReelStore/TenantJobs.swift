import FoundationEssentials
import ReelPostgres
import ReelSupport

/// A stored chunk as the API shows it: where it is, its whole analysis (times from the source's start) and what
/// this job paid for it.
public struct ChunkListing: Sendable {
    public var index: Int
    public var startSeconds: Double
    public var durationSeconds: Double
    public var bytes: Int64
    public var sha256: String
    public var storageKey: String
    /// `{analyzer, model, summary, scenes, cuts, usage}` once analyzed.
    public var analysis: JSONDocument?
    public var analyzedAt: Date?
    public var promptTokens: Int
    public var outputTokens: Int
    public var requests: Int
}

/// A job's log line as the API shows it.
public struct LogListing: Sendable, Equatable {
    public var id: Int64
    public var time: Date
    public var level: String
    public var message: String
    public var fields: JSONDocument
    public var stage: String?
    public var chunkIndex: Int?
}

/// What `GET /api/queue/stats` reports.
public struct QueueOverview: Sendable, Equatable {
    /// stage → state → tasks.
    public var counts: [String: [String: Int]] = [:]
    /// Waiting tasks by priority (0 urgent … 3 low).
    public var readyByPriority: [Int: Int] = [:]
    /// Age of the oldest task that could run now, per stage.
    public var oldestReadySeconds: [String: Double] = [:]
    /// Tasks that succeeded in the last 1, 5 and 15 minutes.
    public var completed: (one: Int, five: Int, fifteen: Int) = (0, 0, 0)

    public static func == (a: QueueOverview, b: QueueOverview) -> Bool {
        a.counts == b.counts && a.readyByPriority == b.readyByPriority && a.oldestReadySeconds == b.oldestReadySeconds
            && a.completed == b.completed
    }
}

/// A worker process or pod, with the tasks of this tenant it is running.
public struct WorkerListing: Sendable {
    public var id: String
    public var pool: String?
    public var stages: [String]
    public var hostname: String
    public var pid: Int
    public var startedAt: Date
    public var heartbeatAt: Date
    public var drainingAt: Date?
    public var stoppedAt: Date?
    public var completed: Int64
    public var failed: Int64
    /// `{"stage", "chunk", "job"}` of each task it holds (only the tenant's are visible).
    public var current: JSONDocument
}

extension TenantStore {
    /// The chunks of the newest generation of the job with resource uid `uid`, in order.
    public func chunks(ofJob uid: String) async throws -> [ChunkListing] {
        try await query(
            """
            SELECT c.chunk_index, c.start_seconds, c.duration_seconds, c.bytes, c.sha256, c.storage_key,
                   c.analysis::text, c.analyzed_at, c.prompt_tokens, c.output_tokens, c.requests
            FROM video_chunks c
            WHERE c.job_id = (SELECT id FROM processing_jobs WHERE resource_uid = $1 ORDER BY generation DESC LIMIT 1)
            ORDER BY c.chunk_index
            """, [uid]
        ).map { row in
            ChunkListing(
                index: try row.decode(at: 0), startSeconds: try row.decode(at: 1),
                durationSeconds: try row.decode(at: 2), bytes: try row.decode(at: 3), sha256: try row.decode(at: 4),
                storageKey: try row.decode(at: 5), analysis: try row.decodeIfPresent(at: 6),
                analyzedAt: try row.decodeIfPresent(at: 7), promptTokens: try row.decode(at: 8),
                outputTokens: try row.decode(at: 9), requests: try row.decode(at: 10))
        }
    }

    /// Log lines of every generation of job `uid` after id `after`, at `levels`, from `since`, oldest first.
    public func logs(ofJob uid: String, levels: [String], since: Date?, after: Int64, limit: Int) async throws
        -> [LogListing]
    {
        try await query(
            """
            SELECT l.id, l.logged_at, l.level, l.message, l.fields::text, q.stage, q.chunk_index
            FROM job_logs l LEFT JOIN job_queue q ON q.id = l.task_id
            WHERE l.job_id IN (SELECT id FROM processing_jobs WHERE resource_uid = $1) AND l.id > $2
                AND l.level = ANY($3::text[]) AND ($4::timestamptz IS NULL OR l.logged_at >= $4)
            ORDER BY l.id LIMIT $5
            """, [uid, after, levels, since, limit]
        ).map { row in
            LogListing(
                id: try row.decode(at: 0), time: try row.decode(at: 1), level: try row.decode(at: 2),
                message: try row.decode(at: 3), fields: try row.decode(at: 4), stage: try row.decodeIfPresent(at: 5),
                chunkIndex: try row.decodeIfPresent(at: 6))
        }
    }

    /// The tenant's queue: counts per stage and state, ready tasks per priority, oldest ready ages, recent
    /// completions.
    public func queueOverview() async throws -> QueueOverview {
        try await run { connection in
            var overview = QueueOverview()
            for row in try await connection.query(
                """
                SELECT stage, state, count(*),
                       extract(epoch FROM now() - min(run_at) FILTER (
                           WHERE state IN ('available', 'retryable') AND run_at <= now()))::double precision
                FROM job_queue GROUP BY stage, state
                """)
            {
                let stage: String = try row.decode(at: 0)
                overview.counts[stage, default: [:]][try row.decode(at: 1)] = try row.decode(Int.self, at: 2)
                if let age: Double = try row.decodeIfPresent(at: 3) {
                    overview.oldestReadySeconds[stage] = max(overview.oldestReadySeconds[stage] ?? 0, age)
                }
            }
            for row in try await connection.query(
                "SELECT priority, count(*) FROM job_queue WHERE state IN ('available', 'retryable') GROUP BY priority")
            {
                overview.readyByPriority[try row.decode(Int.self, at: 0)] = try row.decode(at: 1)
            }
            let recent = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE finished_at > now() - interval '1 minute'),
                       count(*) FILTER (WHERE finished_at > now() - interval '5 minutes'),
                       count(*)
                FROM job_queue WHERE state = 'succeeded' AND finished_at > now() - interval '15 minutes'
                """
            ).first!
            overview.completed = (try recent.decode(at: 0), try recent.decode(at: 1), try recent.decode(at: 2))
            return overview
        }
    }

    /// Every registered worker not stopped for more than `stoppedFor`, newest first.
    public func workers(stoppedFor: Duration) async throws -> [WorkerListing] {
        try await query(
            """
            SELECT w.id, w.pool, w.stages, w.hostname, w.pid, w.started_at, w.heartbeat_at, w.draining_at,
                   w.stopped_at, w.tasks_completed, w.tasks_failed,
                   coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'stage', q.stage, 'chunk', q.chunk_index, 'job', p.resource_uid) ORDER BY q.id)
                             FROM job_queue q JOIN processing_jobs p ON p.id = q.job_id
                             WHERE q.state = 'running' AND q.lease_owner = w.id), '[]')::text
            FROM workers w
            WHERE w.stopped_at IS NULL OR w.stopped_at > now() - make_interval(secs => $1)
            ORDER BY w.started_at DESC
            """, [stoppedFor.seconds]
        ).map { row in
            WorkerListing(
                id: try row.decode(at: 0), pool: try row.decodeIfPresent(at: 1), stages: try row.decode(at: 2),
                hostname: try row.decode(at: 3), pid: try row.decode(at: 4), startedAt: try row.decode(at: 5),
                heartbeatAt: try row.decode(at: 6), drainingAt: try row.decodeIfPresent(at: 7),
                stoppedAt: try row.decodeIfPresent(at: 8), completed: try row.decode(at: 9),
                failed: try row.decode(at: 10), current: try row.decode(at: 11))
        }
    }

    /// Asks worker `id` to drain; returns whether there is such a running worker.
    public func requestDrain(worker id: String) async throws -> Bool {
        try await query(
            "UPDATE workers SET drain_requested_at = now() WHERE id = $1 AND stopped_at IS NULL", [id]
        ).affectedRows > 0
    }
}

extension TenantStore {
    /// The stored source of the newest generation of the job with resource uid `uid`: its key and duration, or
    /// `nil` before ingest stored it.
    public func source(ofJob uid: String) async throws -> (key: String, duration: Double?)? {
        guard
            let row = try await query(
                """
                SELECT source_key, source_duration FROM processing_jobs
                WHERE resource_uid = $1 AND source_key IS NOT NULL ORDER BY generation DESC LIMIT 1
                """, [uid]
            ).first
        else { return nil }
        return (try row.decode(at: 0), try row.decodeIfPresent(at: 1))
    }
}
