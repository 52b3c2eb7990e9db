import Foundation
import ReelCore
import ReelPostgres
@testable import ReelStore
import ReelTestSupport
import Testing

/// A worker's complete-and-claim must do work in proportion to its batch, not to what else waits in the queue.
/// The table rows its scans read (returned or filtered out, from `EXPLAIN ANALYZE` under the generic and the
/// custom plan) measure the work without a clock.
@Suite("Queue plans")
struct QueuePlanTests {
    /// When the statistics were taken: after every task was pruned (autovacuum analyzes a queue whose tasks were
    /// deleted, and the planner then believes every later burst to be empty until the next analyze), or after the
    /// tasks came.
    enum Statistics: String, CaseIterable, CustomTestStringConvertible {
        case ofThePrunedQueue, current
        var testDescription: String { rawValue }
    }

    @Test(arguments: ["force_generic_plan", "force_custom_plan"], Statistics.allCases)
    func aCompleteAndClaimReadsItsBatchNotTheFortyThousandTasksOfAnotherStage(
        planCacheMode: String, statistics: Statistics
    ) async throws {
        let f = try await QueueFixture("plan")
        if statistics == .ofThePrunedQueue {
            try await f.queue.enqueue(f.tasks(1000, stage: .ingest))
            try await f.pool.query("DELETE FROM job_queue")
            try await f.pool.query("ANALYZE job_queue")
        }
        // Analysis waits, enqueued first, at the same priority: ahead of the render tasks in claim order.
        for start in stride(from: 0, to: 40000, by: 5000) {
            try await f.queue.enqueue(
                (start..<start + 5000).map { NewTask(jobID: f.jobID, generation: 1, stage: .analyze, chunkIndex: $0) })
        }
        try await f.queue.enqueue(f.tasks(300, stage: .render))
        if statistics == .current { try await f.pool.query("ANALYZE job_queue") }
        let held = try await f.queue.claim(stages: [.render], limit: 100, worker: "w", lease: .seconds(60))
        #expect(held.count == 100)
        // 100 ready rows chosen and locked, 100 updated, 100 completed. Plans that walked the other stage's index
        // entries, sorted the stage's backlog or read the whole primary key to find the leases read all 40,000.
        let examined = try await Self.rowsExamined(f.pool, planCacheMode, finishing: held.map(\.lease))
        #expect(examined <= 400, "rows of job_queue read behind 40,000 tasks of another stage: \(examined)")
        await f.pool.close()
    }

    /// Explains the statement completing `finishing` and claiming the next 100 render tasks, in a transaction
    /// rolled back afterwards; returns the rows of `job_queue` its scans read.
    static func rowsExamined(_ pool: PostgresPool, _ planCacheMode: String, finishing: [Lease]) async throws -> Int {
        try await pool.withConnection { connection in
            try await connection.execute("BEGIN")
            do {
                try await connection.execute("SET LOCAL plan_cache_mode = \(planCacheMode)")
                try await connection.execute(
                    "PREPARE explained(text[], integer, text, double precision, bigint[], uuid[]) AS "
                        + TaskQueue.completeAndClaimSQL)
                let ids = finishing.map { String($0.taskID) }.joined(separator: ",")
                let tokens = finishing.map { $0.token.uuidString.lowercased() }.joined(separator: ",")
                let rows = try await connection.query(
                    "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE explained('{render}', 100, 'w', 60, "
                        + "'{\(ids)}', '{\(tokens)}')")
                try await connection.execute("ROLLBACK; DEALLOCATE explained")
                let text: String = try #require(rows.first).decode(at: 0)
                let document = try JSONSerialization.jsonObject(with: Data(text.utf8))
                let plan = try #require(((document as? [[String: Any]])?.first?["Plan"]) as? [String: Any])
                #expect(plan["Actual Rows"] as? Int == 200, "100 completed and 100 claimed")
                return Self.rowsRead(plan)
            } catch {
                try? await connection.execute("ROLLBACK; DEALLOCATE ALL")
                throw error
            }
        }
    }

    /// Rows read by the plan's scans of `job_queue`: returned and filtered out, over all loops (EXPLAIN reports
    /// both per loop).
    static func rowsRead(_ node: [String: Any]) -> Int {
        let loops = node["Actual Loops"] as? Int ?? 1
        var rows = 0
        if node["Relation Name"] as? String == "job_queue", (node["Node Type"] as? String)?.hasSuffix("Scan") == true {
            let kept = node["Actual Rows"] as? Int ?? 0
            let removed =
                (node["Rows Removed by Filter"] as? Int ?? 0) + (node["Rows Removed by Index Recheck"] as? Int ?? 0)
            rows = (kept + removed) * loops
        }
        return rows + (node["Plans"] as? [[String: Any]] ?? []).map(rowsRead).reduce(0, +)
    }
}
