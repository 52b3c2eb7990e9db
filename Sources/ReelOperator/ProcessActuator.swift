import FoundationEssentials
import Logging
import ReelStore
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// How to start one worker process of a pool.
public struct WorkerCommand: Sendable {
    /// `reel-worker`, or `reel` (with `worker` first in `arguments`).
    public var executable: String
    /// The worker's arguments, before the pool's own (`--stages`, `--concurrency`, `--pool`).
    public var arguments: [String]
    /// Where each pool's workers write their output (`DIR/<pool>.log`).
    public var logDirectory: String
    /// How long a worker may drain after SIGTERM before SIGKILL.
    public var gracePeriod: Duration

    public init(executable: String, arguments: [String], logDirectory: String, gracePeriod: Duration = .seconds(30)) {
        self.executable = executable
        self.arguments = arguments
        self.logDirectory = logDirectory
        self.gracePeriod = gracePeriod
    }

    /// The binary of this process.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// Runs pools as local worker child processes (`reel-worker`, or `reel worker`): starts and stops them to match
/// the autoscaler's counts (SIGTERM, then SIGKILL after the grace period), restarts crashed ones with backoff, and
/// reaps them.
public final class ProcessActuator: WorkerActuator {
    struct Child {
        var pid: Int32
        var started: ContinuousClock.Instant
        var stopSentAt: ContinuousClock.Instant?
    }

    struct PoolState {
        var children: [Child] = []
        var crashes = 0
        var nextSpawn: ContinuousClock.Instant = .now - .seconds(3600)
        var lastScale: Date?
    }

    public let command: WorkerCommand
    let logger: Logger
    private let state = Mutex<[String: PoolState]>([:])
    /// Signalled whenever a child exits.
    public let exited = WakeSignal()

    public init(command: WorkerCommand, logger: Logger) {
        self.command = command
        self.logger = logger
    }

    /// Live workers of `pool` that were not asked to stop.
    public func replicas(_ pool: String) -> Int {
        state.withLock { $0[pool]?.children.filter { $0.stopSentAt == nil }.count ?? 0 }
    }

    /// Every live worker process (stopping or not).
    public var allPIDs: [Int32] { state.withLock { $0.values.flatMap { $0.children.map(\.pid) } } }

    /// When `pool` last changed size.
    public func lastScale(_ pool: String) -> Date? { state.withLock { $0[pool]?.lastScale } }

    /// Whether `pool` is waiting out a crash backoff.
    public func inCrashBackoff(_ pool: String) -> Bool {
        state.withLock { ($0[pool]?.crashes ?? 0) > 0 && ($0[pool]?.nextSpawn ?? .now) > .now }
    }

    /// Starts or stops workers of `pool` until `replicas` run; escalates to SIGKILL for workers past their grace.
    /// Child reapers are added to `group`.
    public func scale(_ pool: PoolSizing, to replicas: Int, group: inout DiscardingTaskGroup) {
        let now = ContinuousClock.now
        var toStart = 0
        var toStop: [Int32] = []
        var toKill: [Int32] = []
        state.withLock { all in
            var entry = all[pool.name] ?? PoolState()
            let live = entry.children.filter { $0.stopSentAt == nil }
            if live.count < replicas {
                if entry.nextSpawn <= now { toStart = replicas - live.count }
            } else if live.count > replicas {
                // Stop the newest first: the oldest are likeliest mid-task.
                let victims = live.sorted { $0.started > $1.started }.prefix(live.count - replicas).map(\.pid)
                toStop = Array(victims)
                for index in entry.children.indices where victims.contains(entry.children[index].pid) {
                    entry.children[index].stopSentAt = now
                }
            }
            for child in entry.children {
                if let sent = child.stopSentAt, now - sent > command.gracePeriod { toKill.append(child.pid) }
            }
            if toStart > 0 || !toStop.isEmpty { entry.lastScale = Date() }
            all[pool.name] = entry
        }
        for pid in toStop {
            logger.info("stopping worker \(pid) of pool \(pool.name)")
            kill(pid, SIGTERM)
        }
        for pid in toKill {
            logger.warning("worker \(pid) of pool \(pool.name) did not stop within \(command.gracePeriod); killing it")
            kill(pid, SIGKILL)
        }
        for _ in 0..<toStart { start(pool, group: &group) }
    }

    private func start(_ pool: PoolSizing, group: inout DiscardingTaskGroup) {
        let arguments =
            command.arguments + [
                "--stages", pool.stages.map(\.rawValue).joined(separator: ","), "--concurrency", "\(pool.concurrency)",
                "--pool", pool.name,
            ]
        let pid: Int32
        do {
            try FileManager.default.createDirectory(atPath: command.logDirectory, withIntermediateDirectories: true)
            pid = try ProcessRunner.start(
                command.executable, arguments, outputPath: "\(command.logDirectory)/\(pool.name).log")
        } catch {
            logger.error("cannot start a worker for pool \(pool.name): \(error)")
            recordCrash(pool.name)
            return
        }
        logger.info(
            "started worker \(pid) for pool \(pool.name) (\(pool.stages.map(\.rawValue).joined(separator: ",")))")
        state.withLock { all in
            all[pool.name, default: PoolState()].children.append(Child(pid: pid, started: .now))
        }
        group.addTask { [self] in
            let status = await ProcessRunner.waitForExit(pid)
            childExited(pool: pool.name, pid: pid, status: status)
            exited.signal()
        }
    }

    private func childExited(pool: String, pid: Int32, status: Int32) {
        let crashed = state.withLock { all -> Bool in
            guard var entry = all[pool], let index = entry.children.firstIndex(where: { $0.pid == pid }) else {
                return false
            }
            let child = entry.children.remove(at: index)
            let crashed = child.stopSentAt == nil
            if crashed {
                if ContinuousClock.now - child.started > .seconds(60) { entry.crashes = 0 }
                entry.crashes += 1
                entry.nextSpawn = .now + .milliseconds(Int(Autoscaling.crashBackoff(entry.crashes) * 1000))
            }
            all[pool] = entry
            return crashed
        }
        if crashed {
            logger.warning(
                "worker \(pid) of pool \(pool) exited unexpectedly (status \(status)); restarting with backoff")
        } else {
            logger.info("worker \(pid) of pool \(pool) stopped (status \(status))")
        }
    }

    private func recordCrash(_ pool: String) {
        state.withLock { all in
            var entry = all[pool] ?? PoolState()
            entry.crashes += 1
            entry.nextSpawn = .now + .milliseconds(Int(Autoscaling.crashBackoff(entry.crashes) * 1000))
            all[pool] = entry
        }
    }

    /// Stops the children of pools not in `pools`.
    public func retire(except pools: [PoolSizing], group: inout DiscardingTaskGroup) async throws {
        let current = Set(pools.map(\.name))
        let gone = state.withLock { all in
            all.filter { !current.contains($0.key) && !$0.value.children.isEmpty }.map(\.key)
        }
        for name in gone {
            logger.info("pool \(name) no longer exists; stopping its workers")
            scale(PoolSizing(name: name, stages: [], maxReplicas: 0), to: 0, group: &group)
        }
    }

    /// Child processes die with the operator: it stops them when it stops.
    public var workersOutliveOperator: Bool { false }

    /// Stops every worker: SIGTERM, then SIGKILL for those still alive after the grace period.
    public func stopAll() async {
        let pids = state.withLock { all -> [Int32] in
            var pids: [Int32] = []
            for name in all.keys {
                for index in all[name]!.children.indices {
                    all[name]!.children[index].stopSentAt = all[name]!.children[index].stopSentAt ?? .now
                    pids.append(all[name]!.children[index].pid)
                }
            }
            return pids
        }
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + command.gracePeriod
        while !allPIDs.isEmpty && ContinuousClock.now < deadline {
            let generation = exited.generation
            if allPIDs.isEmpty { break }
            await exited.wait(after: generation, timeout: .milliseconds(200))
        }
        for pid in allPIDs {
            logger.warning("worker \(pid) did not stop within \(command.gracePeriod); killing it")
            kill(pid, SIGKILL)
        }
        while !allPIDs.isEmpty {
            let generation = exited.generation
            if allPIDs.isEmpty { break }
            await exited.wait(after: generation, timeout: .milliseconds(200))
        }
    }
}
