import FoundationEssentials
import Logging
import Metrics
import ReelKube
import ServiceLifecycle
import Synchronization

/// `reel operator`'s core: the Kubernetes caches run all the time (a standby keeps them warm); the reconciler
/// and the autoscaler run only while this instance leads — always without leader election. Losing the lease
/// cancels them at once; a graceful stop releases the lease so a successor takes over without waiting for it
/// to expire.
public final class Controller: Service {
    public let backend: KubernetesBackend
    /// What runs while leading: the reconciler and the autoscaler.
    let leaderServices: [any Service]
    public let elector: LeaderElector?
    let logger: Logger
    /// Awaited before the leader services start (the database's migration).
    let prerequisite: @Sendable () async throws -> Void
    private let leading = Mutex(false)
    private let leaderGauge = Gauge(label: "reel_leader")

    /// A controller whose reconciler and autoscaler start, once it leads, after `prerequisite` has returned.
    public convenience init(
        backend: KubernetesBackend, reconciler: Reconciler, autoscaler: Autoscaler, elector: LeaderElector?,
        logger: Logger, prerequisite: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.init(
            backend: backend, leaderServices: [reconciler, autoscaler], elector: elector, logger: logger,
            prerequisite: prerequisite)
    }

    /// A controller that runs `leaderServices` while it leads.
    init(
        backend: KubernetesBackend, leaderServices: [any Service], elector: LeaderElector?, logger: Logger,
        prerequisite: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.backend = backend
        self.leaderServices = leaderServices
        self.elector = elector
        self.logger = logger
        self.prerequisite = prerequisite
        leaderGauge.record(0)
    }

    /// Whether this instance reconciles now.
    public var isLeader: Bool { leading.withLock { $0 } }

    /// Ready once both caches are synced; the detail says whether it leads or stands by.
    public var readiness: (ready: Bool, detail: String) {
        guard backend.synced else { return (false, "waiting for the VideoJob and WorkerPool caches to sync") }
        if elector == nil { return (true, "ok") }
        return (true, isLeader ? "ok: leading" : "ok: standing by (another instance holds the lease)")
    }

    /// Runs until shut down. A service that fails (the caches, the reconciler, the autoscaler) ends the controller
    /// with its error, after stepping down: an operator that cannot reconcile exits and is restarted rather than
    /// holding the lease while doing nothing.
    public func run() async throws {
        // A graceful shutdown cancels the services; a service's error ends the group and the controller.
        try await cancelWhenGracefulShutdown { try await self.runServices() }
    }

    private func runServices() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [backend] in try await Self.untilCancelled { try await backend.run() } }
            group.addTask { [self] in
                if let elector {
                    let failure = Mutex<(any Error)?>(nil)
                    await elector.run { [self] in
                        do { try await lead() } catch { failure.withLock { $0 = error } }
                    }
                    if let error = failure.withLock({ $0 }) { throw error }
                } else {
                    try await lead()
                }
            }
        }
    }

    /// Reconciles and scales until cancelled (leadership lost) or shut down; throws what a service threw.
    private func lead() async throws {
        logger.info(elector == nil ? "reconciling" : "leading: reconciling")
        leading.withLock { $0 = true }
        leaderGauge.record(1)
        defer {
            leading.withLock { $0 = false }
            leaderGauge.record(0)
        }
        do {
            try await prerequisite()
            try await withThrowingDiscardingTaskGroup { group in
                for service in leaderServices {
                    group.addTask { try await Self.untilCancelled { try await service.run() } }
                }
            }
        } catch {
            logger.error("stopped reconciling: \(error)")
            throw error
        }
        logger.info("stopped reconciling")
    }

    /// Runs `body`; an error it throws because the task was cancelled is the expected end, not a failure.
    static func untilCancelled(_ body: () async throws -> Void) async throws {
        do { try await body() } catch  where Task.isCancelled {}
    }
}
