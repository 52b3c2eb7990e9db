import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ServiceLifecycle
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Claims tasks of its stages, runs them with the pipeline while renewing their leases, and completes or fails
/// them. Graceful shutdown stops claiming, waits up to `drainTimeout` for running tasks, then releases the rest.
/// Keeps its `workers` row alive. Workers never decide what comes next: the reconciler does.
public final class Worker: Service {
    public let configuration: WorkerConfiguration
    let queue: TaskQueue
    let pipeline: Pipeline
    let logger: Logger
    let logs: LogStore
    let registry: WorkerRegistry
    private let wake = WakeSignal()
    private let stopping = Mutex(false)
    private let running = Mutex(0)
    /// Of the running tasks, the ingest ones (they have slots of their own).
    private let ingesting = Mutex(0)
    private let counters = Mutex((completed: 0, failed: 0))

    public init(configuration: WorkerConfiguration, queue: TaskQueue, pipeline: Pipeline, logger: Logger) {
        self.configuration = configuration
        self.queue = queue
        self.pipeline = pipeline
        var logger = logger
        logger[metadataKey: "reel.worker"] = .string(configuration.id)
        self.logger = logger
        self.logs = pipeline.database.logs
        self.registry = pipeline.database.workers
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    public func run() async throws {
        try await register()
        let listener = try pipeline.database.listen([TaskQueue.queueChannel])
        logger.info(
            "worker started",
            metadata: ["reel.stages": "\(configuration.stages.map(\.rawValue).joined(separator: ","))"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [wake] in
                    for await _ in listener.events { wake.signal() }
                }
                await claimLoop(group: &group)
                do { try await registry.draining(id: configuration.id) } catch {
                    logger.warning("cannot mark the worker draining: \(error)")
                }
                await drain(group: &group)
                listener.stop()
            }
        } onGracefulShutdown: { [self] in
            stopping.withLock { $0 = true }
            wake.signal()
        }
        do { try await registry.stopped(id: configuration.id) } catch {
            logger.warning("cannot mark the worker stopped: \(error)")
        }
        logger.info("worker stopped")
    }

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        var lastBeat = ContinuousClock.now
        while !isStopping && !Task.isCancelled {
            if let parent = configuration.parentPID, getppid() != parent {
                logger.warning("parent process is gone; stopping")
                stopping.withLock { $0 = true }
                break
            }
            let generation = wake.generation
            var filled = false
            for (stages, free) in freeSlots() where free > 0 {
                do {
                    let claimed = try await queue.claim(
                        stages: stages, limit: free, worker: configuration.id, lease: configuration.lease)
                    for task in claimed {
                        let ingest = task.stageName == Stage.ingest.rawValue
                        running.withLock { $0 += 1 }
                        if ingest { ingesting.withLock { $0 += 1 } }
                        group.addTask { [self] in
                            await execute(task)
                            if ingest { ingesting.withLock { $0 -= 1 } }
                            running.withLock { $0 -= 1 }
                            wake.signal()
                        }
                    }
                    filled = filled || claimed.count == free
                } catch {
                    logger.warning("claim failed", metadata: ["reel.error": "\(error)"])
                }
            }
            if filled { continue }
            if ContinuousClock.now - lastBeat > .seconds(10) {
                lastBeat = .now
                do {
                    if try await beat() {
                        logger.info("asked to drain: taking no new tasks, finishing the running ones, then exiting")
                        stopping.withLock { $0 = true }
                    }
                } catch {
                    logger.warning("heartbeat of the workers row failed: \(error)")
                }
            }
            await wake.wait(after: generation, timeout: configuration.pollInterval)
        }
    }

    /// The stages to claim and how many tasks of them there is room for: ingest in its own slots, the rest in
    /// `concurrency`.
    private func freeSlots() -> [([Stage], Int)] {
        let (total, ingest) = (running.withLock { $0 }, ingesting.withLock { $0 })
        let others = configuration.stages.filter { $0 != .ingest }
        var slots: [([Stage], Int)] = []
        if !others.isEmpty { slots.append((others, configuration.concurrency - (total - ingest))) }
        if configuration.stages.contains(.ingest) {
            slots.append(([.ingest], configuration.ingestConcurrency - ingest))
        }
        return slots
    }

    /// Waits for running tasks up to the drain timeout, then cancels them (they release their leases).
    private func drain(group: inout DiscardingTaskGroup) async {
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while running.withLock({ $0 }) > 0 && ContinuousClock.now < deadline {
            let generation = wake.generation
            if running.withLock({ $0 }) == 0 { break }
            await wake.wait(after: generation, timeout: .milliseconds(250))
        }
        if running.withLock({ $0 }) > 0 {
            logger.warning("drain timeout: releasing running tasks")
            group.cancelAll()
        }
    }

    private enum Outcome: Sendable {
        case finished(Result<Void, TaskFailure>)
        case cancelled
        case leaseLost
    }

    private func execute(_ task: ClaimedTask) async {
        var logger = logger
        logger[metadataKey: "reel.task"] = "\(task.lease.taskID)"
        logger[metadataKey: "reel.stage"] = .string(task.stageName)
        logger[metadataKey: "reel.job"] = "\(task.jobID)"
        logger.info("task started", metadata: ["reel.attempt": "\(task.attempt)"])
        await logs.write(
            job: task.jobID, task: task.lease.taskID, level: "info", "\(task.stageName) started",
            fields: ["attempt": "\(task.attempt)", "worker": configuration.id], fallback: logger)
        let progress = ProgressCell()
        let writes = TaskWrites()
        let started = ContinuousClock.now
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { [pipeline] in
                do throws(TaskFailure) {
                    try await pipeline.run(task, writes: writes) { value in progress.set(value) }
                    return .finished(.success(()))
                } catch { return .finished(.failure(error)) }
            }
            group.addTask { [queue, configuration, logger] in
                while true {
                    do { try await Task.sleep(for: configuration.lease / 3) } catch { return nil }
                    do {
                        switch try await queue.heartbeat(
                            task.lease, progress: progress.value, extendBy: configuration.lease)
                        {
                        case .cancelled: return .cancelled
                        case .leaseLost: return .leaseLost
                        case .extended: continue
                        }
                    } catch {
                        // The lease runs on; the next beat tries again, and a rescue fences off a lost one.
                        logger.warning("lease renewal of task \(task.lease.taskID) failed: \(error)")
                    }
                }
            }
            var first: Outcome? = nil
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .cancelled
        }
        let seconds = cFormat("%.3f", (ContinuousClock.now - started) / .seconds(1))
        switch outcome {
        case .finished(.success):
            do {
                if try await queue.complete(task.lease) {
                    counters.withLock { $0.completed += 1 }
                    logger.info("task succeeded", metadata: ["reel.seconds": "\(seconds)"])
                    await logs.write(
                        job: task.jobID, task: task.lease.taskID, level: "info", "\(task.stageName) succeeded",
                        fields: ["seconds": seconds], fallback: logger)
                } else {
                    logger.warning("task finished but its lease was lost; result discarded")
                    _ = await pipeline.discardIfJobGone(task, writes)
                }
            } catch {
                logger.error(
                    "task finished but could not be marked complete; it runs again once its lease expires",
                    metadata: ["reel.error": "\(error)"])
            }
        case .finished(.failure(let failure)):
            if failure.reason == TaskFailure.leaseLost.reason {
                logger.warning("lease lost before results were written; nothing written")
            } else if Task.isCancelled {
                do {
                    _ = try await queue.release(task.lease)
                    logger.info("task released unfinished (shutdown)")
                } catch {
                    logger.error(
                        "task could not be released (shutdown); it runs again once its lease expires",
                        metadata: ["reel.error": "\(error)"])
                }
            } else {
                counters.withLock { $0.failed += 1 }
                let outcome: String
                do {
                    let recorded = try await queue.fail(
                        task.lease, error: failure.message, reason: failure.reason, retryable: failure.retryable)
                    outcome = "\(recorded)"
                } catch {
                    outcome = "not recorded (it runs again once its lease expires): \(error)"
                }
                logger.warning(
                    "task failed",
                    metadata: [
                        "reel.reason": .string(failure.reason), "reel.error": .string(failure.message),
                        "reel.outcome": .string(outcome),
                    ])
                await logs.write(
                    job: task.jobID, task: task.lease.taskID, level: "error", "\(task.stageName) failed",
                    fields: [
                        "reason": failure.reason, "error": failure.message,
                        "retryable": "\(failure.retryable)",
                    ], fallback: logger)
            }
        case .cancelled:
            logger.info("task cancelled (the job changed or was deleted)")
            _ = await pipeline.discardIfJobGone(task, writes)
        case .leaseLost:
            logger.warning("lease lost while running")
            _ = await pipeline.discardIfJobGone(task, writes)
        }
    }

    private func register() async throws {
        try await registry.register(
            id: configuration.id, stages: configuration.stages, hostname: WorkerConfiguration.hostname,
            pid: Int(getpid()), pool: configuration.pool)
    }

    /// Beats; returns whether the worker was asked to drain.
    private func beat() async throws -> Bool {
        let (completed, failed) = counters.withLock { ($0.completed, $0.failed) }
        return try await registry.beat(id: configuration.id, completed: completed, failed: failed)
    }
}

/// The latest progress a running stage reported, read by its heartbeat.
private final class ProgressCell: Sendable {
    private let cell = Mutex<Double?>(nil)
    var value: Double? { cell.withLock { $0 } }
    func set(_ value: Double) { cell.withLock { $0 = value } }
}
