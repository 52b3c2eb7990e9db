import Foundation
import ReelCore
import ReelPostgres
@testable import ReelStore
import ReelSupport
import Testing

/// Enqueueing by COPY, the INSERT it falls back to, and the per-statement triggers that took the foreign key's
/// place (migration 12).
@Suite("Enqueue")
struct EnqueueTests {
    @Test func copyRowsEscapeWhatTheTextFormatReserves() {
        var rows = CopyRows()
        rows.field("a\\b\tc\nd\re")
        rows.field(nil as Int?)
        rows.plainField("now")
        rows.endRow()
        rows.field(1.5)
        rows.endRow()
        #expect(String(decoding: rows.bytes, as: UTF8.self) == "a\\\\b\\tc\\nd\\re\t\\N\tnow\n1.5\n")
    }

    @Test func everyFieldReadsBackAsItWasGiven() async throws {
        let f = try await QueueFixture("enqueue-fields")
        let later = Date(timeIntervalSince1970: 4_102_444_800.25)  // 2100-01-01T00:00:00.25Z
        // Pretty JSON: newlines, a tab and escaped quotes and backslashes inside strings, all of which COPY escapes.
        let payload = JSONDocument(text: "{\n\t\"path\": \"C:\\\\videos\\\\a\\\"b\\\".mp4\",\n  \"n\": [1, 2]\n}")
        let tasks = [
            NewTask(
                jobID: f.jobID, generation: 3, stage: .render, priority: 0, maxAttempts: 2, backoffSeconds: 0.25,
                maxBackoffSeconds: 1e-5, runAt: later, payload: payload),
            NewTask(jobID: f.jobID, generation: 3, stage: .analyze, chunkIndex: 7),
        ]
        #expect(try await f.queue.enqueue(tasks) == 2)
        let rows = try await f.pool.query(
            """
            SELECT generation, stage, chunk_index, priority, max_attempts, backoff_seconds, max_backoff_seconds,
                   run_at, payload = $2::jsonb, run_at = created_at, state
            FROM job_queue WHERE job_id = $1 ORDER BY stage DESC
            """, [f.jobID, payload]
        ).map { $0 }
        #expect(rows.count == 2)
        let render = rows[0]
        #expect(try render.decode(Int64.self, at: 0) == 3)
        #expect(try render.decode(String.self, at: 1) == "render")
        #expect(try render.decodeIfPresent(Int.self, at: 2) == nil)
        #expect(try render.decode(Int.self, at: 3) == 0)
        #expect(try render.decode(Int.self, at: 4) == 2)
        #expect(try render.decode(Double.self, at: 5) == 0.25)
        #expect(try render.decode(Double.self, at: 6) == 1e-5)
        #expect(try render.decode(Date.self, at: 7) == later)
        #expect(try render.decode(Bool.self, at: 8))
        let analyze = rows[1]
        #expect(try analyze.decodeIfPresent(Int.self, at: 2) == 7)
        #expect(try analyze.decode(Int.self, at: 3) == 2)
        // No time given: the statement's `now()`, as the table's defaults have it.
        #expect(try analyze.decode(Bool.self, at: 9))
        #expect(try analyze.decode(String.self, at: 10) == "available")
        await f.pool.close()
    }

    @Test func tasksAlreadyThereOrTwiceInOneCallGoInOnce() async throws {
        let f = try await QueueFixture("enqueue-again")
        #expect(try await f.queue.enqueue(f.tasks(3)) == 3)
        // The first task is there: the COPY fails on it and the INSERT that follows takes only the new ones.
        #expect(try await f.queue.enqueue(f.tasks(5)) == 2)
        let twice = [NewTask(jobID: f.jobID, generation: 2, stage: .split)]
        #expect(try await f.queue.enqueue(twice + twice) == 1)
        #expect(try await f.pool.query("SELECT count(*) FROM job_queue").first?.decode(Int.self, at: 0) == 6)
        await f.pool.close()
    }

    @Test func aTaskOfAJobThatDoesNotExistIsRefusedWithNothingInserted() async throws {
        let f = try await QueueFixture("enqueue-no-job")
        let ghost = NewTask(jobID: f.jobID + 1000, generation: 1, stage: .analyze)
        try await f.queue.enqueue(f.tasks(1))
        // By COPY (all new), by the INSERT after a duplicate, and by any other statement.
        for batch in [f.tasks(3).dropFirst() + [ghost], f.tasks(3) + [ghost]] {
            let error = await #expect(throws: PostgresError.self) { try await f.queue.enqueue(Array(batch)) }
            #expect(error?.code == .foreignKeyViolation)
            #expect(error?.message.contains("job \(f.jobID + 1000)") == true)
        }
        let error = await #expect(throws: PostgresError.self) {
            try await f.pool.query(
                "INSERT INTO job_queue (job_id, generation, stage) VALUES ($1, 1, 'split')", [f.jobID + 1000])
        }
        #expect(error?.code == .foreignKeyViolation)
        #expect(try await f.pool.query("SELECT count(*) FROM job_queue").first?.decode(Int.self, at: 0) == 1)
        await f.pool.close()
    }

    @Test func aJobDeletedWhileItsTasksGoInTakesThemWithIt() async throws {
        let f = try await QueueFixture("enqueue-delete")
        let inserter = try await PostgresConnection.connect(f.url)
        let deleter = try await PostgresConnection.connect(f.url)
        try await inserter.execute("BEGIN")
        try await inserter.copyIn(TaskQueue.copySQL, data: TaskQueue.copyRows(f.tasks(4)))
        // The deletion waits for the uncommitted enqueue's key-share lock on the job…
        let deleterPID = try await deleter.backendPID()
        let deletion = Task { try await deleter.query("DELETE FROM processing_jobs WHERE id = $1", [f.jobID]) }
        try await waitUntilBlocked(pid: deleterPID, pool: f.pool)
        try await inserter.execute("COMMIT")
        _ = try await deletion.value
        // …and once the tasks are committed, takes them.
        #expect(try await f.pool.query("SELECT count(*) FROM job_queue").first?.decode(Int.self, at: 0) == 0)

        // A deletion committed first: the enqueue finds no job.
        let error = await #expect(throws: PostgresError.self) { try await f.queue.enqueue(f.tasks(2)) }
        #expect(error?.code == .foreignKeyViolation)
        await inserter.close()
        await deleter.close()
        await f.pool.close()
    }

    /// Returns once the backend `pid` waits for a lock (there is no signal to await for that but the server's view).
    private func waitUntilBlocked(pid: Int32, pool: PostgresPool) async throws {
        for _ in 0..<3000 {
            let waiting = try await pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [Int(pid)])
            if try waiting.first?.decode(Int.self, at: 0) == 1 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("backend \(pid) never waited for a lock")
    }
}
