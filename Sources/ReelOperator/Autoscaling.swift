import FoundationEssentials
import ReelAPI

/// A pool as the autoscaler sizes it: a declared WorkerPool or one of the defaults.
public struct PoolSizing: Sendable, Equatable {
    public var name: String
    public var stages: [Stage]
    public var minReplicas: Int
    public var maxReplicas: Int
    public var tasksPerReplica: Int
    public var concurrency: Int
    public var scaleDownDelay: TimeInterval
    /// The declared resource's uid and generation; `nil` for a default pool.
    public var uid: String?
    public var generation: Int?
    /// Pod overrides (Kubernetes worker runtime).
    public var template: WorkerTemplate?
    /// The declared resource's namespace.
    public var namespace: String?

    public init(
        name: String, stages: [Stage], minReplicas: Int = 0, maxReplicas: Int, tasksPerReplica: Int = 4,
        concurrency: Int = 1, scaleDownDelay: TimeInterval = 60, uid: String? = nil, generation: Int? = nil
    ) {
        self.name = name
        self.stages = stages
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.tasksPerReplica = tasksPerReplica
        self.concurrency = concurrency
        self.scaleDownDelay = scaleDownDelay
        self.uid = uid
        self.generation = generation
    }

    /// The sizing a WorkerPool declares.
    public init(_ pool: WorkerPool) {
        self.init(
            name: pool.metadata.name, stages: pool.spec.stages, minReplicas: pool.spec.minReplicas,
            maxReplicas: pool.spec.maxReplicas, tasksPerReplica: pool.spec.tasksPerReplica,
            concurrency: pool.spec.concurrency, scaleDownDelay: TimeInterval(pool.spec.scaleDownDelaySeconds),
            uid: pool.metadata.uid, generation: pool.metadata.generation)
        template = pool.spec.template
        namespace = pool.metadata.namespace
    }

    /// ARCHITECTURE.md §3's defaults (the seed's production sizing): ingest 3, split 4, analyze 3, assemble 2,
    /// render 2 as `maxReplicas`, `minReplicas: 0`.
    public static let defaultMaxReplicas: [Stage: Int] = [.ingest: 3, .split: 4, .analyze: 3, .assemble: 2, .render: 2]

    /// The declared pools, plus a default pool for every stage no declared pool covers.
    public static func effective(declared: [WorkerPool]) -> [PoolSizing] {
        var pools = declared.map(PoolSizing.init)
        let covered = Set(declared.flatMap(\.spec.stages))
        for stage in Stage.allCases where !covered.contains(stage) {
            pools.append(PoolSizing(name: stage.rawValue, stages: [stage], maxReplicas: defaultMaxReplicas[stage] ?? 1))
        }
        return pools
    }
}

/// The autoscaler's arithmetic. Pure: time is passed in.
public enum Autoscaling {
    /// clamp(ceil(depth / tasksPerReplica), min, max).
    public static func desired(depth: Int, pool: PoolSizing) -> Int {
        let wanted = depth <= 0 ? 0 : (depth + pool.tasksPerReplica - 1) / max(1, pool.tasksPerReplica)
        return min(pool.maxReplicas, max(pool.minReplicas, wanted))
    }

    /// The replica count to run now: up at once; down only to the highest recommendation of the last
    /// `scaleDownDelay` seconds (so demand must stay lower for the whole window), like the HPA's stabilization.
    public static func target(
        current: Int, desired: Int, recommendations: [(at: Date, replicas: Int)], now: Date, delay: TimeInterval
    ) -> Int {
        if desired >= current { return desired }
        let window = recommendations.filter { now.timeIntervalSince($0.at) < delay }.map(\.replicas)
        return min(current, max(desired, window.max() ?? desired))
    }

    /// Keeps recommendations inside the window (and the current one).
    public static func prune(_ recommendations: [(at: Date, replicas: Int)], now: Date, delay: TimeInterval)
        -> [(at: Date, replicas: Int)]
    {
        recommendations.filter { now.timeIntervalSince($0.at) < max(delay, 0) }
    }

    /// Restart delay after `crashes` crashes in a row: 1 s doubling to 30 s.
    public static func crashBackoff(_ crashes: Int) -> TimeInterval {
        crashes <= 0 ? 0 : min(30, Double(1 << min(crashes - 1, 5)))
    }
}
