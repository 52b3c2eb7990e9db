import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelPostgres
import ReelSupport

/// A `job_logs` line, with the task it came from.
public struct LogRow: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var level: String
    public var message: String
    public var fields: [String: String]
    /// The stage and chunk of the task that wrote it, if a task did.
    public var stage: String?
    public var chunkIndex: Int?
}

/// Structured log lines in `job_logs`, correlated by task.
public struct LogStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// Appends one line. Logging never fails the caller's work: a line that cannot be written goes to `fallback`
    /// as a warning instead.
    public func write(
        job: Int64?, task: Int64?, level: String, _ message: String, fields: [String: String] = [:], fallback: Logger
    ) async {
        do {
            try await pool.query(
                """
                INSERT INTO job_logs (job_id, task_id, level, message, fields, correlation_id)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6)
                """, [job, task, level, message, try JSONDocument(encoding: fields), task.map { "task-\($0)" }])
        } catch {
            fallback.warning("cannot write job \(job.map(String.init) ?? "-")'s log line \"\(message)\": \(error)")
        }
    }

    /// Lines of `jobs` after id `after`: the oldest `limit` of them, or the newest with `newest`; in order.
    public func lines(jobs: [Int64], after: Int64, limit: Int, newest: Bool) async throws -> [LogRow] {
        let rows = try await pool.query(
            """
            SELECT * FROM (
                SELECT l.id, l.logged_at, l.level, l.message, l.fields::text, q.stage, q.chunk_index, l.task_id
                FROM job_logs l LEFT JOIN job_queue q ON q.id = l.task_id
                WHERE l.job_id = ANY($1::bigint[]) AND l.id > $2
                ORDER BY l.id \(newest ? "DESC" : "ASC") LIMIT $3
            ) recent ORDER BY id
            """, [jobs, after, limit])
        return try rows.map { row in
            LogRow(
                id: try row.decode(at: 0), at: try row.decode(at: 1), level: try row.decode(at: 2),
                message: try row.decode(at: 3),
                fields: try row.decode(JSONDocument.self, at: 4).decode([String: String].self),
                stage: try row.decodeIfPresent(at: 5), chunkIndex: try row.decodeIfPresent(at: 6))
        }
    }
}

/// The `workers` rows: who works on which stages, their heartbeats and counts.
public struct WorkerRegistry: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// Registers (or re-registers after a restart) a worker.
    public func register(id: String, stages: [Stage], hostname: String, pid: Int, pool name: String?) async throws {
        try await pool.query(
            """
            INSERT INTO workers (id, stages, hostname, pid, pool) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
            """, [id, stages.map(\.rawValue), hostname, pid, name])
    }

    /// A heartbeat, with the worker's counts so far; returns whether someone asked the worker to drain.
    @discardableResult
    public func beat(id: String, completed: Int, failed: Int) async throws -> Bool {
        let rows = try await pool.query(
            """
            UPDATE workers SET heartbeat_at = now(), tasks_completed = $2, tasks_failed = $3 WHERE id = $1
            RETURNING drain_requested_at IS NOT NULL
            """, [id, completed, failed])
        return try rows.first?.decode(Bool.self, at: 0) ?? false
    }

    /// The worker takes no new tasks.
    public func draining(id: String) async throws {
        try await pool.query("UPDATE workers SET draining_at = now() WHERE id = $1", [id])
    }

    /// The worker is gone.
    public func stopped(id: String) async throws {
        try await pool.query("UPDATE workers SET stopped_at = now(), heartbeat_at = now() WHERE id = $1", [id])
    }
}

/// The shared request and token budgets (`rate_limit_events`): a sliding window of billable calls per key hash,
/// examined and extended under a transaction-scoped advisory lock on the hash, with the database's clock.
public struct RateLimitLedger: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// A grant (`ticket`), or how long to wait before asking again.
    public struct Reservation: Sendable, Equatable {
        public var ticket: Int64?
        public var waitSeconds: Double
    }

    /// Grants a call of `tokens` when it fits `requests` and `tokens` per `windowSeconds` (a limit of `nil` is
    /// none); a single call larger than the whole token budget still goes, alone.
    public func reserve(
        keyHash: String, tokens: Int, requestsPerWindow: Int?, tokensPerWindow: Int?, windowSeconds: Double
    ) async throws -> Reservation {
        try await pool.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", [keyHash])
            // Keep an hour (or ten windows) of grants for inspection; count only the current window.
            try await connection.query(
                "DELETE FROM rate_limit_events WHERE key_hash = $1 AND at <= clock_timestamp() - "
                    + "make_interval(secs => greatest($2::double precision * 10, 3600))",
                [keyHash, windowSeconds])
            let rows = try await connection.query(
                """
                SELECT count(*)::bigint, coalesce(sum(tokens), 0)::bigint,
                       coalesce(extract(epoch FROM min(at) + make_interval(secs => $2) - clock_timestamp()), 0)
                           ::double precision
                FROM rate_limit_events WHERE key_hash = $1 AND at > clock_timestamp() - make_interval(secs => $2)
                """, [keyHash, windowSeconds])
            guard let row = rows.first else { throw PostgresError(.server, "an aggregate gave no row") }
            let count: Int = try row.decode(at: 0)
            let used: Int = try row.decode(at: 1)
            let untilOldestLeaves: Double = try row.decode(at: 2)
            let requestsFit = requestsPerWindow.map { count + 1 <= $0 } ?? true
            let tokensFit = tokensPerWindow.map { used + tokens <= $0 || count == 0 } ?? true
            guard requestsFit && tokensFit else {
                return Reservation(ticket: nil, waitSeconds: max(0.01, untilOldestLeaves))
            }
            let ticket = try await connection.query(
                "INSERT INTO rate_limit_events (key_hash, tokens) VALUES ($1, $2) RETURNING id", [keyHash, tokens])
            guard let granted = ticket.first else { throw PostgresError(.server, "INSERT … RETURNING gave no row") }
            return Reservation(ticket: try granted.decode(Int64.self, at: 0), waitSeconds: 0)
        }
    }

    /// Corrects a grant's tokens to what the call really used.
    public func settle(_ ticket: Int64, tokens: Int) async throws {
        try await pool.query("UPDATE rate_limit_events SET tokens = $2 WHERE id = $1", [ticket, tokens])
    }
}
