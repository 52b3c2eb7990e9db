import Foundation
import ReelAPI
import ReelCore
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

/// A migrated database with one job row, and a queue over it.
struct QueueFixture {
    let url: String
    let pool: PostgresPool
    let queue: TaskQueue
    let jobID: Int64

    init(_ name: String, maxConnections: Int = 8) async throws {
        url = try await TestPostgres.migratedDatabase(name)
        pool = PostgresPool(url: url, maxConnections: maxConnections)
        queue = TaskQueue(pool: pool)
        jobID = try await JobStore(pool: pool).upsertJob(
            resourceUID: UUID().uuidString, namespace: "default", name: name, generation: 1,
            spec: JSONDocument(text: "{}"))
    }

    func tasks(_ count: Int, stage: Stage = .analyze, maxAttempts: Int = 5) -> [NewTask] {
        (0..<count).map { NewTask(jobID: jobID, generation: 1, stage: stage, chunkIndex: $0, maxAttempts: maxAttempts) }
    }

    func state(of taskID: Int64) async throws -> String {
        try await pool.query("SELECT state FROM job_queue WHERE id = $1", [taskID]).first!.decode(at: 0)
    }

    /// Makes every waiting task ready now (instead of sleeping through its backoff).
    func makeReadyNow() async throws {
        try await pool.query("UPDATE job_queue SET run_at = now() WHERE state IN ('available', 'retryable')")
    }
}

@Suite("Durable task queue")
struct QueueTests {
    @Test func sixteenWorkersCompleteFiveThousandTasksExactlyOnce() async throws {
        let f = try await QueueFixture("burn", maxConnections: 16)
        #expect(try await f.queue.enqueue(f.tasks(5000)) == 5000)
        let completedByWorker = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<16 {
                group.addTask {
                    var done: [Int64] = []
                    while true {
                        let claimed = try await f.queue.claim(
                            stages: [.analyze], limit: 25, worker: "w\(worker)", lease: .seconds(60))
                        if claimed.isEmpty { return done }
                        let completed = try await f.queue.complete(claimed.map(\.lease))
                        #expect(completed.count == claimed.count)
                        done += completed
                    }
                }
            }
            return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
        }
        let all = completedByWorker.flatMap { $0 }
        #expect(all.count == 5000)
        #expect(Set(all).count == 5000)
        #expect(completedByWorker.filter { !$0.isEmpty }.count > 1)
        let stats = try await f.queue.stats()
        #expect(stats == [QueueStats(stage: "analyze", counts: ["succeeded": 5000], oldestReadySeconds: nil)])
        await f.pool.close()
    }

    @Test func enqueueIsIdempotentAndClaimsFollowPriority() async throws {
        let f = try await QueueFixture("enqueue")
        var tasks = f.tasks(3)
        tasks[2].priority = 0
        #expect(try await f.queue.enqueue(tasks) == 3)
        #expect(try await f.queue.enqueue(tasks + [NewTask(jobID: f.jobID, generation: 1, stage: .assemble)]) == 1)
        #expect(try await f.queue.enqueue([NewTask(jobID: f.jobID, generation: 1, stage: .assemble)]) == 0)
        let first = try await f.queue.claim(
            stages: [.analyze, .assemble], limit: 1, worker: "w", lease: .seconds(30))
        #expect(first.map(\.chunkIndex) == [2])
        #expect(first.first?.attempt == 1)
        let stats = try await f.queue.stats()
        #expect(stats.map(\.stage) == ["analyze", "assemble"])
        #expect(stats.first?.counts == ["available": 2, "running": 1])
        #expect(stats.first?.depth == 3)
        #expect((stats.first?.oldestReadySeconds ?? -1) >= 0)
        await f.pool.close()
    }

    @Test func aClaimOverSeveralStagesTakesTheMostUrgentAcrossThemAndLeavesTheRestReady() async throws {
        let f = try await QueueFixture("stages")
        var render = f.tasks(4, stage: .render)
        render[3].priority = 0
        render[1].priority = 1
        try await f.queue.enqueue(f.tasks(4) + render)
        func names(_ tasks: [ClaimedTask]) -> Set<String> { Set(tasks.map { "\($0.stageName)\($0.chunkIndex ?? -1)" }) }
        // Each stage offers its first three; the three most urgent of the six are claimed, a stage named twice once.
        let first = try await f.queue.claim(
            stages: [.analyze, .render, .analyze], limit: 3, worker: "a", lease: .seconds(60))
        #expect(names(first) == ["render3", "render1", "analyze0"])
        // The rows offered but not claimed were only locked for the statement: all of them are still there.
        let rest = try await f.queue.claim(stages: [.render, .analyze], limit: 10, worker: "b", lease: .seconds(60))
        #expect(names(rest) == ["analyze1", "analyze2", "analyze3", "render0", "render2"])
        #expect(rest.allSatisfy { $0.attempt == 1 })
        await f.pool.close()
    }

    @Test func expiredLeaseIsRescuedAndTheStaleHolderIsFencedOut() async throws {
        let f = try await QueueFixture("fence")
        try await f.queue.enqueue(f.tasks(1))
        // A zero-length lease has expired by the next statement: no sleeping.
        let stale = try #require(
            try await f.queue.claim(stages: [.analyze], limit: 1, worker: "old", lease: .zero).first)
        #expect(try await f.queue.rescueExpired() == 1)
        #expect(try await f.state(of: stale.lease.taskID) == "available")
        let fresh = try #require(
            try await f.queue.claim(stages: [.analyze], limit: 1, worker: "new", lease: .seconds(60)).first)
        #expect(fresh.lease.taskID == stale.lease.taskID)
        #expect(fresh.lease.token != stale.lease.token)
        #expect(fresh.attempt == 2)

        #expect(try await f.queue.heartbeat(stale.lease, progress: 0.5, extendBy: .seconds(60)) == .leaseLost)
        #expect(try await f.queue.complete(stale.lease) == false)
        #expect(try await f.queue.fail(stale.lease, error: "late", retryable: true) == .leaseLost)
        guard case .extended = try await f.queue.heartbeat(fresh.lease, progress: 0.5, extendBy: .seconds(60)) else {
            Issue.record("the fresh holder's heartbeat was refused")
            return
        }
        #expect(try await f.queue.complete(fresh.lease))
        let errors = try await f.pool.query(
            "SELECT errors, progress FROM job_queue WHERE id = $1", [fresh.lease.taskID]
        ).first!
        #expect(try errors.decode(JSONDocument.self, at: 0).text.contains("lease expired"))
        #expect(try errors.decode(Double.self, at: 1) == 1)
        await f.pool.close()
    }

    @Test func backoffDoublesWithinJitterBoundsThenDeadLetters() async throws {
        let f = try await QueueFixture("backoff")
        var task = f.tasks(1, maxAttempts: 4)[0]
        task.backoffSeconds = 10
        task.maxBackoffSeconds = 30
        try await f.queue.enqueue([task])
        // attempt 1 → 10 s, 2 → 20 s, 3 → 30 s (capped); jitter 0 is −20 %, 1 is +20 %.
        let expected: [(jitter: Double, seconds: Double)] = [(0, 8), (1, 24), (0.5, 30)]
        for (attempt, step) in expected.enumerated() {
            let claimed = try #require(
                try await f.queue.claim(stages: [.analyze], limit: 1, worker: "w", lease: .seconds(60)).first)
            #expect(claimed.attempt == attempt + 1)
            let before = Date()
            guard
                case .retrying(let at) = try await f.queue.fail(
                    claimed.lease, error: "boom \(attempt + 1)", retryable: true, jitter: step.jitter)
            else {
                Issue.record("attempt \(attempt + 1) was not retried")
                return
            }
            #expect(abs(at.timeIntervalSince(before) - step.seconds) < 1.0, "attempt \(attempt + 1)")
            #expect(try await f.queue.claim(stages: [.analyze], limit: 1, worker: "w", lease: .seconds(60)).isEmpty)
            try await f.makeReadyNow()
        }
        let last = try #require(
            try await f.queue.claim(stages: [.analyze], limit: 1, worker: "w", lease: .seconds(60)).first)
        #expect(last.attempt == 4)
        #expect(try await f.queue.fail(last.lease, error: "boom 4", retryable: true) == .discarded)
        let row = try await f.pool.query(
            "SELECT state, errors, last_error FROM job_queue WHERE id = $1", [last.lease.taskID]
        ).first!
        #expect(try row.decode(String.self, at: 0) == "discarded")
        struct Entry: Decodable { var attempt: Int; var error: String; var retryable: Bool }
        let history = try row.decode(JSONDocument.self, at: 1).decode([Entry].self)
        #expect(history.map(\.attempt) == [1, 2, 3, 4])
        #expect(history.map(\.error) == ["boom 1", "boom 2", "boom 3", "boom 4"])
        #expect(try row.decode(String.self, at: 2) == "boom 4")
        await f.pool.close()
    }

    @Test func permanentErrorsDeadLetterAtOnce() async throws {
        let f = try await QueueFixture("permanent")
        try await f.queue.enqueue(f.tasks(1))
        let claimed = try #require(
            try await f.queue.claim(stages: [.analyze], limit: 1, worker: "w", lease: .seconds(60)).first)
        #expect(try await f.queue.fail(claimed.lease, error: "invalid media", retryable: false) == .discarded)
        await f.pool.close()
    }

    @Test func cancellingAJobStopsWaitingAndRunningTasks() async throws {
        let f = try await QueueFixture("cancel")
        try await f.queue.enqueue(f.tasks(3))
        let running = try #require(
            try await f.queue.claim(stages: [.analyze], limit: 1, worker: "w", lease: .seconds(60)).first)
        #expect(try await f.queue.cancel(jobID: f.jobID) == 3)
        #expect(try await f.queue.heartbeat(running.lease, extendBy: .seconds(60)) == .cancelled)
        #expect(try await f.queue.complete(running.lease) == false)
        #expect(try await f.queue.claim(stages: [.analyze], limit: 10, worker: "w", lease: .seconds(60)).isEmpty)
        #expect(try await f.queue.stats().first?.counts == ["cancelled": 3])
        await f.pool.close()
    }

    @Test func pruneDeletesOnlyOldFinishedTasks() async throws {
        let f = try await QueueFixture("prune")
        try await f.queue.enqueue(f.tasks(3))
        let claimed = try await f.queue.claim(stages: [.analyze], limit: 2, worker: "w", lease: .seconds(60))
        _ = try await f.queue.complete(claimed.map(\.lease))
        #expect(try await f.queue.prune(olderThan: .seconds(3600)) == 0)
        try await f.pool.query(
            "UPDATE job_queue SET finished_at = now() - interval '2 hours' WHERE state = 'succeeded'")
        #expect(try await f.queue.prune(olderThan: .seconds(3600)) == 2)
        #expect(try await f.queue.stats().first?.counts == ["available": 1])
        await f.pool.close()
    }

    @Test func enqueueAndCompletionNotify() async throws {
        let f = try await QueueFixture("notify")
        let listener = try PostgresListener(url: f.url, channels: [TaskQueue.queueChannel, TaskQueue.jobsChannel])
        let events = TimedEvents(listener.events, limit: .seconds(30))
        #expect(try await events.next() == .listening(reconnected: false))
        try await f.queue.enqueue(f.tasks(50))
        var seen: [String: String] = [:]
        while seen.count < 2, case .notification(let n)? = try await events.next() { seen[n.channel] = n.payload }
        #expect(seen == [TaskQueue.queueChannel: "analyze", TaskQueue.jobsChannel: String(f.jobID)])
        // Claiming and completing are state changes too: each tells the job's channel once per statement.
        let claimed = try await f.queue.claim(stages: [.analyze], limit: 50, worker: "w", lease: .seconds(60))
        guard case .notification(let running)? = try await events.next() else {
            Issue.record("no notification for the claims")
            return
        }
        #expect(running.channel == TaskQueue.jobsChannel && running.payload == String(f.jobID))
        _ = try await f.queue.complete(claimed.map(\.lease))
        guard case .notification(let done)? = try await events.next() else {
            Issue.record("no notification for the completions")
            return
        }
        #expect(done.channel == TaskQueue.jobsChannel && done.payload == String(f.jobID))
        listener.stop()
        await f.pool.close()
    }
}

@Suite("Migrations")
struct MigrationTests {
    @Test func applyingTwiceIsANoOp() async throws {
        let url = try await TestPostgres.database("migrate")
        let connection = try await PostgresConnection.connect(url)
        #expect(try await Migrator.migrate(connection, logger: TestPostgres.logger) == Migrator.all.map(\.version))
        #expect(try await Migrator.migrate(connection, logger: TestPostgres.logger) == [])
        let tables = try await connection.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).map { try $0.decode(String.self, at: 0) }
        #expect(
            tables == [
                "analysis_cache", "api_tokens", "audit_log", "events", "idempotency_keys", "job_logs", "job_queue",
                "manifest_problems", "output_claims", "processing_jobs", "rate_limit_events", "resource_deletions",
                "resources",
                "schema_migrations", "uploads", "video_chunks", "workers",
            ])
        await connection.close()
    }

    @Test func concurrentMigrationsTakeTurns() async throws {
        let url = try await TestPostgres.database("race")
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(url)
                    let done = try await Migrator.migrate(connection, logger: TestPostgres.logger)
                    await connection.close()
                    return done
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Migrator.all.map(\.version))
    }
}

@Suite("Batch moves and wake-ups")
struct BatchAndWakeTests {
    @Test func completeAndClaimMovesToTheNextBatchInOneStatement() async throws {
        let f = try await QueueFixture("move")
        try await f.queue.enqueue(f.tasks(5))
        let first = try await f.queue.claim(stages: [.analyze], limit: 2, worker: "w", lease: .seconds(60))
        let stale = Lease(taskID: first[0].lease.taskID, token: UUID())
        let (done, next) = try await f.queue.completeAndClaim(
            [first[1].lease, stale], stages: [.analyze], limit: 2, worker: "w", lease: .seconds(60))
        #expect(done == [first[1].lease.taskID])
        #expect(next.map(\.chunkIndex) == [2, 3])
        #expect(try await f.state(of: first[0].lease.taskID) == "running")
        await f.pool.close()
    }

    @Test func aSignalSentBeforeTheWaitIsNotLost() async {
        let signal = WakeSignal()
        let seen = signal.generation
        signal.signal()
        let start = ContinuousClock.now
        await signal.wait(after: seen, timeout: .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func signalWakesOnlyAsManyWaitersAsAsked() async {
        let signal = WakeSignal()
        let seen = signal.generation
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await signal.wait(after: seen, timeout: .seconds(30)) } }
            while signal.waiterCount < 3 { await Task.yield() }
            signal.signal(waking: 1)
            await group.next()
            #expect(signal.waiterCount == 2)
            signal.signal()
            await group.waitForAll()
        }
        #expect(signal.waiterCount == 0)
    }
}
