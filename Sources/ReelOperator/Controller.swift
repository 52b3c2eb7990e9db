import Foundation
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
    public let reconciler: Reconciler
    public let autoscaler: Autoscaler
    public let elector: LeaderElector?
    let logger: Logger
    private let leading = Mutex(false)
    private let leaderGauge = Gauge(label: "reel_leader")

    public init(
        backend: KubernetesBackend, reconciler: Reconciler, autoscaler: Autoscaler, elector: LeaderElector?,
        logger: Logger
    ) {
        self.backend = backend
        self.reconciler = reconciler
        self.autoscaler = autoscaler
        self.elector = elector
        self.logger = logger
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

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [backend] in try? await backend.run() }
            group.addTask { [self] in
                if let elector {
                    await elector.run { [self] in await lead() }
                } else {
                    await lead()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Reconciles and scales until cancelled (leadership lost) or shut down.
    private func lead() async {
        logger.info(elector == nil ? "reconciling" : "leading: reconciling")
        leading.withLock { $0 = true }
        leaderGauge.record(1)
        defer {
            leading.withLock { $0 = false }
            leaderGauge.record(0)
        }
        await withDiscardingTaskGroup { group in
            group.addTask { [reconciler] in try? await reconciler.run() }
            group.addTask { [autoscaler] in try? await autoscaler.run() }
        }
        logger.info("stopped reconciling")
    }
}
