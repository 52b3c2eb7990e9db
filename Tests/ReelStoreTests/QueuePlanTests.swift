import Foundation
import ReelCore
import ReelPostgres
@testable import ReelStore
import ReelTestSupport
import Testing

/// A worker's complete-and-claim must do work in proportion to its batch, not to what else waits in the queue.
/// Buffers touched (from `EXPLAIN (ANALYZE, BUFFERS)`, under the generic and the custom plan) measure the work
/// without a clock.
@Suite("Queue plans")
struct QueuePlanTests {
    @Test(arguments: ["force_generic_plan", "force_custom_plan"])
    func aClaimDoesTheSameWorkBehindAThousandOrFortyThousandTasksOfAnotherStage(planCacheMode: String) async throws {
        var buffers: [(statement: Int, choice: Int)] = []
        for backlog in [1000, 40000] {
            let f = try await QueueFixture("plan")
            // Analysis waits, enqueued first, at the same priority: ahead of the render tasks in claim order.
            for start in stride(from: 0, to: backlog, by: 5000) {
                try await f.queue.enqueue(
                    (start..<min(backlog, start + 5000)).map {
                        NewTask(jobID: f.jobID, generation: 1, stage: .analyze, chunkIndex: $0)
                    })
            }
            try await f.queue.enqueue(f.tasks(300, stage: .render))
            try await f.pool.query("ANALYZE job_queue")
            let held = try await f.queue.claim(stages: [.render], limit: 100, worker: "w", lease: .seconds(60))
            #expect(held.count == 100)
            buffers.append(try await Self.buffersTouched(f.pool, planCacheMode, finishing: held.map(\.lease)))
            await f.pool.close()
        }
        // Choosing 100 tasks reads the same few index pages (one more level at most); the old plan walked the
        // other stage's 40,000 entries (133 → 1,120 buffers). The statement's 200 row updates may also meet one more
        // index level; a plan that scanned or sorted the backlog touched 1.6-1.8× as much.
        #expect(buffers[1].choice <= buffers[0].choice + 20, "choosing, behind 1,000 and 40,000: \(buffers)")
        #expect(buffers[1].statement < buffers[0].statement * 3 / 2, "statement, behind 1,000 and 40,000: \(buffers)")
    }

    /// Explains the statement completing `finishing` and claiming the next 100 render tasks, in a transaction
    /// rolled back afterwards; returns the shared buffers hit or read by the whole statement and by its choice of
    /// the tasks to claim.
    static func buffersTouched(_ pool: PostgresPool, _ planCacheMode: String, finishing: [Lease]) async throws
        -> (statement: Int, choice: Int)
    {
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
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE explained('{render}', 100, 'w', 60, "
                        + "'{\(ids)}', '{\(tokens)}')")
                try await connection.execute("ROLLBACK; DEALLOCATE explained")
                let text: String = try #require(rows.first).decode(at: 0)
                let document = try JSONSerialization.jsonObject(with: Data(text.utf8))
                let plan = try #require(((document as? [[String: Any]])?.first?["Plan"]) as? [String: Any])
                #expect(plan["Actual Rows"] as? Int == 200, "100 completed and 100 claimed")
                func touched(_ node: [String: Any]) -> Int {
                    (node["Shared Hit Blocks"] as? Int ?? 0) + (node["Shared Read Blocks"] as? Int ?? 0)
                }
                let next = try #require(
                    (plan["Plans"] as? [[String: Any]])?.first { $0["Subplan Name"] as? String == "CTE next" })
                return (statement: touched(plan), choice: touched(next))
            } catch {
                try? await connection.execute("ROLLBACK; DEALLOCATE ALL")
                throw error
            }
        }
    }
}
