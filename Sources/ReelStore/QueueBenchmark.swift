import Dispatch
import FoundationEssentials
import Logging
import ReelCore
import ReelPostgres
import ReelSupport

/// `reel bench queue`: how fast the queue takes tasks in and burns them down, how long claims take, and how
/// soon an idle worker picks up a new task — with fencing tokens, on a real Postgres.
public enum QueueBenchmark {
    public struct Options: Sendable {
        /// No-op tasks to enqueue and burn down.
        public var tasks: Int
        /// Concurrent workers.
        public var workers: Int
        /// Tasks per claim and per completion statement.
        public var batch: Int
        /// Tasks per enqueue statement.
        public var enqueueBatch: Int
        /// Concurrent enqueueing clients.
        public var producers: Int
        /// Idle-wake rounds.
        public var wakeRounds: Int

        public init(
            tasks: Int = 20_000, workers: Int = 8, batch: Int = 100, enqueueBatch: Int = 1000, producers: Int = 2,
            wakeRounds: Int = 100
        ) {
            self.producers = max(1, producers)
            self.tasks = max(1, tasks)
            self.workers = max(1, workers)
            self.batch = max(1, batch)
            self.enqueueBatch = max(1, enqueueBatch)
            self.wakeRounds = max(1, wakeRounds)
        }
    }

    /// Milliseconds at the 50th and 99th percentiles.
    public struct Percentiles: Codable, Sendable {
        public var p50: Double
        public var p99: Double

        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            func at(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
                return (sorted[min(sorted.count - 1, max(0, rank))] * 1000).rounded() / 1000
            }
            p50 = at(0.5)
            p99 = at(0.99)
        }
    }

    /// The numbers, with the keys `reel bench queue --json` prints.
    public struct Result: Codable, Sendable {
        public var tasks: Int
        public var workers: Int
        public var completed: Int
        public var duplicates: Int
        public var enqueuePerSec: Double
        public var burnDownPerSec: Double
        public var claimLatencyMs: Percentiles
        public var wakeLatencyMs: Percentiles

        enum CodingKeys: String, CodingKey {
            case tasks, workers, completed, duplicates
            case enqueuePerSec = "enqueue_per_sec"
            case burnDownPerSec = "burn_down_per_sec"
            case claimLatencyMs = "claim_latency_ms"
            case wakeLatencyMs = "wake_latency_ms"
        }
    }

    /// Runs the benchmark against the (empty or not) database at `url`, in a job of its own.
    public static func run(url: String, options: Options, logger: Logger) async throws -> Result {
        try await Database.migrate(url: url, logger: logger)
        let pool = PostgresPool(url: url, maxConnections: options.workers + 2)
        let queue = TaskQueue(pool: pool)
        let jobID = try await JobStore(pool: pool).upsertJob(
            resourceUID: "bench-\(UUID().uuidString)", namespace: "bench", name: "queue", generation: 1,
            spec: JSONDocument(text: "{}"))
        let stage = "bench-\(jobID)"

        // Enqueue, from `producers` concurrent producers, a batch per statement.
        let enqueueStart = ContinuousClock.now
        let batches = Array(stride(from: 0, to: options.tasks, by: options.enqueueBatch))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<options.producers {
                group.addTask {
                    for start in batches.enumerated().filter({ $0.offset % options.producers == producer }).map(
                        \.element)
                    {
                        let end = min(options.tasks, start + options.enqueueBatch)
                        try await queue.enqueue(
                            (start..<end).map { NewTask(jobID: jobID, generation: 1, stageName: stage, chunkIndex: $0) }
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
        let enqueueSeconds = (ContinuousClock.now - enqueueStart).seconds

        // Burn down.
        let burnStart = ContinuousClock.now
        let perWorker = try await withThrowingTaskGroup(of: (completed: [Int64], claimSeconds: [Double]).self) {
            group in
            for worker in 0..<options.workers {
                group.addTask {
                    // Each round trip completes the previous batch and claims the next.
                    var completed: [Int64] = []
                    var claimSeconds: [Double] = []
                    var finished: [Lease] = []
                    while true {
                        let t0 = ContinuousClock.now
                        let (done, claimed) = try await queue.completeAndClaim(
                            finished, stageNames: [stage], limit: options.batch, worker: "bench-\(worker)",
                            lease: .seconds(60))
                        claimSeconds.append((ContinuousClock.now - t0).seconds)
                        completed += done
                        if claimed.isEmpty { return (completed, claimSeconds) }
                        finished = claimed.map(\.lease)
                    }
                }
            }
            return try await group.reduce(into: [(completed: [Int64], claimSeconds: [Double])]()) { $0.append($1) }
        }
        let burnSeconds = (ContinuousClock.now - burnStart).seconds
        var counts: [Int64: Int] = [:]
        for id in perWorker.flatMap(\.completed) { counts[id, default: 0] += 1 }

        let wake = try await wakeLatencies(url: url, queue: queue, jobID: jobID, stage: stage, options: options)
        try await pool.query("DELETE FROM processing_jobs WHERE id = $1", [jobID])
        await pool.close()
        return Result(
            tasks: options.tasks, workers: options.workers, completed: counts.count,
            duplicates: counts.values.filter { $0 > 1 }.count,
            enqueuePerSec: (Double(options.tasks) / enqueueSeconds).rounded(),
            burnDownPerSec: (Double(options.tasks) / burnSeconds).rounded(),
            claimLatencyMs: Percentiles(perWorker.flatMap(\.claimSeconds).map { $0 * 1000 }),
            wakeLatencyMs: Percentiles(wake.map { $0 * 1000 }))
    }

    /// Enqueue-to-claim times of single tasks enqueued while every worker is idle, woken by NOTIFY.
    private static func wakeLatencies(url: String, queue: TaskQueue, jobID: Int64, stage: String, options: Options)
        async throws -> [Double]
    {
        let listener = try PostgresListener(url: url, channels: [TaskQueue.queueChannel])
        defer { listener.stop() }
        let signal = WakeSignal()
        let (claims, claimed) = AsyncStream.makeStream(of: Double.self)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            group.addTask {
                for await event in listener.events {
                    switch event {
                    case .listening: readyContinuation.yield()
                    case .notification: signal.signal(waking: 1)
                    }
                }
                return []
            }
            for worker in 0..<options.workers {
                group.addTask {
                    while !Task.isCancelled {
                        let seen = signal.generation
                        let tasks = try await queue.claim(
                            stageNames: [stage], limit: 1, worker: "wake-\(worker)", lease: .seconds(60))
                        guard let task = tasks.first else {
                            await signal.wait(after: seen, timeout: .seconds(1))
                            continue
                        }
                        let sent = (try? task.payload.decode([String: UInt64].self))?["sent"] ?? 0
                        claimed.yield(Double(DispatchTime.now().uptimeNanoseconds &- sent) / 1e9)
                        _ = try await queue.complete(task.lease)
                    }
                    return []
                }
            }
            var readiness = ready.makeAsyncIterator()
            await readiness.next()
            var samples: [Double] = []
            var iterator = claims.makeAsyncIterator()
            for round in 0..<options.wakeRounds {
                // Every worker idle, waiting for a signal, before the task goes in.
                while signal.waiterCount < options.workers { try await Task.sleep(for: .milliseconds(1)) }
                let sent = DispatchTime.now().uptimeNanoseconds
                try await queue.enqueue([
                    NewTask(
                        jobID: jobID, generation: 1, stageName: stage, chunkIndex: options.tasks + round,
                        payload: JSONDocument(text: "{\"sent\":\(sent)}"))
                ])
                guard let latency = await iterator.next() else { break }
                samples.append(latency)
            }
            claimed.finish()
            listener.stop()
            group.cancelAll()
            return samples
        }
    }
}
