import FoundationEssentials
import ReelCore
import ReelPostgres
import ReelSupport

extension TaskQueue {
    /// Extends the lease by `extension` and records `progress` (0–1); tells the holder when the job was
    /// cancelled or the lease is no longer theirs.
    public func heartbeat(_ lease: Lease, progress: Double? = nil, extendBy duration: Duration) async throws
        -> HeartbeatResult
    {
        let rows = try await pool.query(
            """
            WITH renewed AS (
                UPDATE job_queue
                SET lease_expires_at = now() + make_interval(secs => $3), heartbeat_at = now(),
                    progress = coalesce($4, progress), updated_at = now()
                WHERE id = $1 AND lease_token = $2 AND state = 'running'
                RETURNING lease_expires_at
            )
            SELECT 'renewed', (SELECT lease_expires_at FROM renewed)
            WHERE EXISTS (SELECT 1 FROM renewed)
            UNION ALL
            SELECT state, NULL FROM job_queue
            WHERE id = $1 AND lease_token = $2 AND NOT EXISTS (SELECT 1 FROM renewed)
            """, [lease.taskID, lease.token, duration.seconds, progress.map { min(1, max(0, $0)) }])
        guard let row = rows.first else { return .leaseLost }
        switch try row.decode(String.self, at: 0) {
        case "renewed": return .extended(until: try row.decode(at: 1))
        case "cancelled": return .cancelled
        default: return .leaseLost
        }
    }

    /// Marks the task succeeded; `false` when the lease was no longer ours (nothing written).
    public func complete(_ lease: Lease) async throws -> Bool {
        try await complete([lease]).contains(lease.taskID)
    }

    /// Marks many tasks succeeded in one statement; returns the ids that were (the others' leases were stale).
    public func complete(_ leases: [Lease]) async throws -> Set<Int64> {
        guard !leases.isEmpty else { return [] }
        let rows = try await pool.query(
            "WITH \(Self.completeCTE(ids: "$1", tokens: "$2")) SELECT id FROM done WHERE (SELECT count(*) FROM "
                + "notified) >= 0",
            [leases.map(\.taskID), leases.map(\.token)])
        return Set(try rows.map { try $0.decode(Int64.self, at: 0) })
    }

    /// Records a failure. A retryable error with attempts left waits `min(max, base·2^(attempt-1))` ±20 %
    /// (`jitter` in 0…1 picks where in that band) and runs again; otherwise the task is discarded. Every error is
    /// appended to the task's history.
    public func fail(
        _ lease: Lease, error message: String, reason: String? = nil, retryable: Bool,
        jitter: Double = .random(in: 0...1)
    ) async throws -> FailureOutcome {
        let rows = try await pool.query(
            """
            WITH failed AS (
                UPDATE job_queue
                SET state = CASE WHEN $3 AND attempt < max_attempts THEN 'retryable' ELSE 'discarded' END,
                    run_at = CASE WHEN $3 AND attempt < max_attempts
                        THEN now() + make_interval(secs =>
                            least(max_backoff_seconds, backoff_seconds * power(2, attempt - 1)) * (0.8 + 0.4 * $5))
                        ELSE run_at END,
                    finished_at = CASE WHEN $3 AND attempt < max_attempts THEN NULL ELSE now() END,
                    last_error = $4, last_reason = $6,
                    errors = errors || jsonb_build_array(jsonb_build_object(
                        'attempt', attempt, 'error', $4::text, 'reason', $6::text, 'retryable', $3::boolean,
                        'at', now())),
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND lease_token = $2 AND state = 'running'
                RETURNING state, run_at, job_id
            ),
            notified AS (SELECT pg_notify('\(Self.jobsChannel)', job_id::text) FROM failed)
            SELECT state, run_at FROM failed WHERE (SELECT count(*) FROM notified) >= 0
            """, [lease.taskID, lease.token, retryable, message, min(1, max(0, jitter)), reason])
        guard let row = rows.first else { return .leaseLost }
        return try row.decode(String.self, at: 0) == "retryable" ? .retrying(at: try row.decode(at: 1)) : .discarded
    }

    /// Hands a running task back unfinished (a worker shutting down): it is available again at once and the
    /// attempt does not count. `false` when the lease was no longer ours.
    @discardableResult
    public func release(_ lease: Lease) async throws -> Bool {
        let rows = try await pool.query(
            """
            WITH released AS (
                UPDATE job_queue
                SET state = 'available', attempt = greatest(attempt - 1, 0), run_at = now(), lease_owner = NULL,
                    lease_token = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND lease_token = $2 AND state = 'running'
                RETURNING stage, job_id
            ),
            notified AS (
                SELECT pg_notify('\(Self.queueChannel)', stage) FROM released
                UNION ALL
                SELECT pg_notify('\(Self.jobsChannel)', job_id::text) FROM released
            )
            SELECT count(*) FROM released WHERE (SELECT count(*) FROM notified) >= 0
            """, [lease.taskID, lease.token])
        return try rows.first?.decode(Int.self, at: 0) == 1
    }

    /// Cancels a job's tasks: waiting ones at once; running ones too, so their holders' next heartbeat says
    /// `.cancelled` and their completions are refused. Returns how many tasks were cancelled.
    @discardableResult
    public func cancel(jobID: Int64) async throws -> Int {
        let rows = try await pool.query(
            """
            WITH cancelled AS (
                UPDATE job_queue
                SET state = 'cancelled', finished_at = now(), updated_at = now(), lease_expires_at = NULL
                WHERE job_id = $1 AND state IN ('available', 'retryable', 'running')
                RETURNING id
            ),
            notified AS (SELECT pg_notify('\(Self.jobsChannel)', $1::text) WHERE EXISTS (SELECT 1 FROM cancelled))
            SELECT count(*) FROM cancelled WHERE (SELECT count(*) FROM notified) >= 0
            """, [jobID])
        return try rows.first?.decode(Int.self, at: 0) ?? 0
    }

    /// Returns tasks whose leases expired to the queue (or discards them when that was their last attempt).
    /// The old holder's token stays on record only until the next claim replaces it, so its writes are refused.
    @discardableResult
    public func rescueExpired() async throws -> Int {
        let rows = try await pool.query(
            """
            WITH rescued AS (
                UPDATE job_queue
                SET state = CASE WHEN attempt < max_attempts THEN 'available' ELSE 'discarded' END,
                    finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE now() END,
                    run_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
                    last_error = 'lease expired (worker lost)', last_reason = 'WorkerLost',
                    errors = errors || jsonb_build_array(jsonb_build_object(
                        'attempt', attempt, 'error', 'lease expired (worker lost)', 'retryable', true, 'at', now())),
                    updated_at = now()
                WHERE id IN (
                    SELECT id FROM job_queue WHERE state = 'running' AND lease_expires_at < now()
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING id, job_id, stage
            ),
            notified AS (
                SELECT pg_notify('\(Self.queueChannel)', stage) FROM (SELECT DISTINCT stage FROM rescued) s
                UNION ALL
                SELECT pg_notify('\(Self.jobsChannel)', job_id::text) FROM (SELECT DISTINCT job_id FROM rescued) j
            )
            SELECT count(*) FROM rescued WHERE (SELECT count(*) FROM notified) >= 0
            """)
        return try rows.first?.decode(Int.self, at: 0) ?? 0
    }

    /// Deletes finished tasks (succeeded, discarded, cancelled) that finished more than `retention` ago. A
    /// maintenance call that reads the whole queue: no index of finished tasks is kept for it, which would cost
    /// every completion an index entry.
    @discardableResult
    public func prune(olderThan retention: Duration) async throws -> Int {
        let rows = try await pool.query(
            """
            DELETE FROM job_queue
            WHERE state IN ('succeeded', 'discarded', 'cancelled') AND finished_at < now() - make_interval(secs => $1)
            """, [retention.seconds])
        return rows.affectedRows
    }

    /// Counts per stage and state, with the age of the oldest ready task per stage.
    public func stats() async throws -> [QueueStats] {
        let rows = try await pool.query(
            """
            SELECT stage, state, count(*),
                   extract(epoch FROM now() - min(run_at) FILTER (
                       WHERE state IN ('available', 'retryable') AND run_at <= now()))::double precision
            FROM job_queue GROUP BY stage, state ORDER BY stage, state
            """)
        var byStage: [String: QueueStats] = [:]
        for row in rows {
            let stage: String = try row.decode(at: 0)
            var stats = byStage[stage] ?? QueueStats(stage: stage, counts: [:], oldestReadySeconds: nil)
            stats.counts[try row.decode(at: 1)] = try row.decode(Int.self, at: 2)
            if let age: Double = try row.decodeIfPresent(at: 3) {
                stats.oldestReadySeconds = max(stats.oldestReadySeconds ?? 0, age)
            }
            byStage[stage] = stats
        }
        return byStage.values.sorted { $0.stage < $1.stage }
    }
}
