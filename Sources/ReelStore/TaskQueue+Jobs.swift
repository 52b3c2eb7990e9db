import FoundationEssentials
import ReelAPI
import ReelCore
import ReelPostgres

/// Where a task is in its life (`job_queue.state`).
public enum TaskState: String, Sendable, CaseIterable {
    case available, running, retryable, succeeded, discarded, cancelled

    /// Waiting or running: not finished.
    public var isActive: Bool { self == .available || self == .retryable || self == .running }
}

/// Tasks of one stage in one state, for a job.
public struct TaskCountRow: Sendable, Equatable {
    public var stage: Stage
    public var state: TaskState
    public var count: Int
    public var maxAttempt: Int
    /// The greatest last error among them (for `reel describe`).
    public var lastError: String?
}

/// The first task of a stage that was discarded: why, and after how many attempts.
public struct StageFailureRow: Sendable, Equatable {
    public var stage: Stage
    public var reason: String?
    public var message: String?
    public var attempts: Int?
}

extension TaskQueue {
    /// Runs `body` in a transaction that first locks the task row and checks the lease is still held: a worker
    /// whose lease was rescued (or whose job was cancelled) writes nothing and gets `TaskFailure.leaseLost`.
    static func fenced(
        _ pool: PostgresPool, _ lease: Lease, _ body: @escaping @Sendable (PostgresConnection) async throws -> Void
    ) async throws {
        try await pool.transaction { connection in
            let held = try await connection.query(
                "SELECT 1 FROM job_queue WHERE id = $1 AND lease_token = $2 AND state = 'running' FOR UPDATE",
                [lease.taskID, lease.token])
            guard !held.isEmpty else { throw TaskFailure.leaseLost }
            try await body(connection)
        }
    }

    /// A job's tasks by stage and state, in the order the stages began (tasks of stages this build does not know
    /// are left out).
    public func taskCounts(jobID: Int64) async throws -> [TaskCountRow] {
        let rows = try await pool.query(
            """
            SELECT stage, state, count(*)::bigint, max(attempt), max(last_error)
            FROM job_queue WHERE job_id = $1 GROUP BY stage, state ORDER BY min(id)
            """, [jobID])
        return try rows.compactMap { row in
            guard let stage = Stage(rawValue: try row.decode(at: 0)) else { return nil }
            let name: String = try row.decode(at: 1)
            guard let state = TaskState(rawValue: name) else {
                throw PostgresError(.decoding, "job_queue.state \"\(name)\" is not a task state")
            }
            return TaskCountRow(
                stage: stage, state: state, count: try row.decode(at: 2), maxAttempt: try row.decode(at: 3),
                lastError: try row.decodeIfPresent(at: 4))
        }
    }

    /// For each stage of a job with a discarded task, the first one discarded.
    public func failures(jobID: Int64) async throws -> [StageFailureRow] {
        let rows = try await pool.query(
            """
            SELECT DISTINCT ON (stage) stage, last_reason, last_error, attempt FROM job_queue
            WHERE job_id = $1 AND state = 'discarded' ORDER BY stage, finished_at, id
            """, [jobID])
        return try rows.compactMap { row in
            guard let stage = Stage(rawValue: try row.decode(at: 0)) else { return nil }
            return StageFailureRow(
                stage: stage, reason: try row.decodeIfPresent(at: 1), message: try row.decodeIfPresent(at: 2),
                attempts: try row.decodeIfPresent(at: 3))
        }
    }

    /// Which of `jobIDs` still have tasks waiting or running.
    public func jobsWithActiveTasks(_ jobIDs: [Int64]) async throws -> [Int64] {
        guard !jobIDs.isEmpty else { return [] }
        let rows = try await pool.query(
            """
            SELECT DISTINCT job_id FROM job_queue
            WHERE job_id = ANY($1::bigint[]) AND state IN ('available', 'retryable', 'running')
            """, [jobIDs])
        return try rows.map { try $0.decode(Int64.self, at: 0) }.sorted()
    }
}
