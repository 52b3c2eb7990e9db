import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ServiceLifecycle
import Synchronization
import ReelSupport

/// Sizes every pool from its stages' queue depth and makes it so through an actuator (child processes or
/// Deployments); writes declared pools' status; returns expired leases to the queue. Wakes on `NOTIFY` (enqueue,
/// claim, finish), on the actuator's signal (a child's exit), and on a one-second tick.
public final class Autoscaler: Service {
    let database: Database
    let queue: TaskQueue
    let resources: any ResourceSource
    let actuator: any WorkerActuator
    let metrics = ScalingMetrics()
    let logger: Logger
    /// How often expired leases are rescued.
    let rescueInterval: Duration
    private let recommendations = Mutex<[String: [(at: Date, replicas: Int)]]>([:])
    private let history = Mutex<[String: Int]>([:])
    /// The most replicas each pool has had at once (for tests and benchmarks).
    public var peakReplicas: [String: Int] { history.withLock { $0 } }

    /// An autoscaler of the pools in `resources` (the `resources` table when `nil`).
    public init(
        database: Database, actuator: any WorkerActuator, resources: (any ResourceSource)? = nil,
        rescueInterval: Duration, logger: Logger
    ) {
        self.database = database
        self.queue = database.queue()
        self.resources = resources ?? database.resources
        self.actuator = actuator
        self.rescueInterval = rescueInterval
        self.logger = logger
    }

    public func run() async throws {
        let listener = try database.listen([TaskQueue.queueChannel, TaskQueue.jobsChannel])
        let wake = actuator.exited
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in listener.events { wake.signal() }
            }
            var lastRescue = ContinuousClock.now - rescueInterval
            while !Task.isCancelledOrShuttingDown {
                let generation = wake.generation
                if ContinuousClock.now - lastRescue >= rescueInterval {
                    lastRescue = .now
                    do {
                        let rescued = try await queue.rescueExpired()
                        if rescued > 0 {
                            logger.warning("returned \(rescued) task(s) with expired leases to the queue")
                        }
                    } catch {
                        logger.warning("rescue of expired leases failed: \(error)")
                    }
                }
                do { try await tick(group: &group) } catch { logger.warning("autoscaler pass failed: \(error)") }
                await wake.wait(after: generation, timeout: .seconds(1))
                // Coalesce a burst of notifications into one pass.
                try? await Task.sleep(for: .milliseconds(50))
            }
            listener.stop()
            if !actuator.workersOutliveOperator {
                await actuator.stopAll()
                do { try await recordStopped() } catch {
                    logger.warning("cannot record the stopped pools' status: \(error)")
                }
            }
        }
    }

    /// After shutdown no worker runs: say so in the declared pools' status.
    private func recordStopped() async throws {
        for stored in try await resources.list(kind: WorkerPool.names.kind) where stored.deletionTimestamp == nil {
            guard var status = try stored.status?.decode(WorkerPoolStatus.self), status.replicas != 0 else { continue }
            status.replicas = 0
            try await resources.updateStatus(stored, status: .workerPool(status))
        }
    }

    /// One pass: depth → desired → target → actuator, and status for declared pools.
    func tick(group: inout DiscardingTaskGroup) async throws {
        let declared = try await resources.list(kind: WorkerPool.names.kind).filter { $0.deletionTimestamp == nil }
        let pools = PoolSizing.effective(declared: try declared.map { try $0.workerPool() })
        let stats = Dictionary(uniqueKeysWithValues: try await queue.stats().map { ($0.stage, $0) })
        for stage in Stage.allCases {
            metrics.queueDepth(stage: stage.rawValue, stats[stage.rawValue]?.depth ?? 0)
            metrics.oldestReady(stage: stage.rawValue, seconds: stats[stage.rawValue]?.oldestReadySeconds ?? 0)
        }
        let now = Date()
        do {
            try await actuator.retire(except: pools, group: &group)
        } catch {
            logger.warning("cannot retire the workers of removed pools: \(error)")
        }
        for sizing in pools {
            let depth = sizing.stages.reduce(0) { $0 + (stats[$1.rawValue]?.depth ?? 0) }
            let desired = Autoscaling.desired(depth: depth, pool: sizing)
            let current = actuator.replicas(sizing.name)
            let window = recommendations.withLock { all in
                let kept = Autoscaling.prune(all[sizing.name] ?? [], now: now, delay: sizing.scaleDownDelay)
                all[sizing.name] = kept + [(now, desired)]
                return all[sizing.name]!
            }
            let target = Autoscaling.target(
                current: current, desired: desired, recommendations: window, now: now, delay: sizing.scaleDownDelay)
            if target != current {
                logger.info("pool \(sizing.name): queue depth \(depth), \(current) → \(target) worker(s)")
            }
            do {
                try await actuator.scale(sizing, to: target, group: &group)
            } catch {
                logger.warning("cannot scale pool \(sizing.name) to \(target): \(error)")
            }
            let replicas = actuator.replicas(sizing.name)
            metrics.replicas(pool: sizing.name, replicas)
            history.withLock { $0[sizing.name] = max($0[sizing.name] ?? 0, replicas) }
            if let stored = declared.first(where: { $0.uid == sizing.uid }) {
                try await writeStatus(
                    stored, sizing: sizing, replicas: replicas, desired: desired, depth: depth, now: now)
            }
        }
    }

    private func writeStatus(
        _ stored: StoredResource, sizing: PoolSizing, replicas: Int, desired: Int, depth: Int, now: Date
    ) async throws {
        let previous = try stored.status?.decode(WorkerPoolStatus.self)
        let backoff = actuator.inCrashBackoff(sizing.name)
        let (status, reason, message): (ConditionStatus, String, String) =
            backoff
            ? (.false, "CrashBackoff", "a worker crashed; restarting with backoff")
            : replicas == desired
                ? (.true, "DesiredReplicas", "\(replicas) of \(desired) worker(s) running")
                : (
                    .true, replicas < desired ? "ScalingUp" : "ScalingDown",
                    "\(replicas) worker(s) running, \(desired) wanted"
                )
        let before = previous?.conditions?.first { $0.type == "ScalingActive" }
        let transition = before.map { $0.status == status ? $0.lastTransitionTime : Timestamp(now) } ?? Timestamp(now)
        let next = WorkerPoolStatus(
            observedGeneration: sizing.generation, replicas: replicas, desiredReplicas: desired, queueDepth: depth,
            lastScaleTime: actuator.lastScale(sizing.name).map(Timestamp.init) ?? previous?.lastScaleTime,
            conditions: [
                Condition(
                    type: "ScalingActive", status: status, reason: reason, message: message,
                    lastTransitionTime: transition,
                    observedGeneration: sizing.generation)
            ])
        if next != previous { try await resources.updateStatus(stored, status: .workerPool(next)) }
    }
}
