import FoundationEssentials
import Logging
import ReelCore
import ReelHealth
import ReelKube
import ReelOperator
import ReelProcess
import ReelStorage
import ReelStore
import ReelSupport
import ServiceLifecycle

/// What `reel operator` runs on: resolved settings, with the API server already connected.
public struct OperatorSettings: Sendable {
    /// Where the operator's workers run.
    public enum Workers: Sendable {
        /// Worker child processes run by `program`; `state` holds their logs and scratch space, `arguments` are
        /// added to theirs (how they reach the API server for Secrets).
        case process(state: String, program: WorkerProgram, arguments: [String])
        /// One Deployment per pool (roots, lease, grace and worker arguments are filled in from these settings).
        case kubernetes(KubeWorkerConfiguration)
    }

    public var databaseURL: String
    public var storage: String
    public var allowedRoots: [String] = []
    public var connection: KubeConnection
    /// Watch only this namespace; `nil` watches all.
    public var namespace: String?
    /// This instance's name (Lease holder, Event reporter).
    public var identity: String
    /// Reconcile only while holding this Lease; `nil` always reconciles.
    public var leaderElection: LeaderElectionConfiguration?
    public var workers: Workers
    public var lease: Duration = .seconds(30)
    public var grace: Duration = .seconds(30)
    public var resync: Duration = .seconds(300)
    /// `/healthz` and `/readyz`; `/metrics` too when `metricsAddress` is `nil`.
    public var healthAddress: (host: String, port: Int)
    public var metricsAddress: (host: String, port: Int)?
    /// Where the operator's own downloads from S3 go (it reads little: statuses need none today).
    public var scratch: String = FileManager.default.temporaryDirectory.path
    /// Extra `reel worker` arguments for every worker (Gemini budgets).
    public var workerArguments: [String] = []
    /// Directories `file://` URIs of jobs created over HTTP may name (`--api-allow-root`), when the REST API is
    /// served too.
    public var apiFileRoots: [String] = []

    public init(
        databaseURL: String, storage: String, connection: KubeConnection, identity: String, workers: Workers,
        healthAddress: (host: String, port: Int)
    ) {
        self.databaseURL = databaseURL
        self.storage = storage
        self.connection = connection
        self.identity = identity
        self.workers = workers
        self.healthAddress = healthAddress
    }
}

/// What the operator's services share with services a caller adds (the REST API of `reel operator --api-addr`).
public struct OperatorContext: Sendable {
    public let client: KubeClient
    public let store: any ObjectStore
    /// The operator's readiness (database reachable, caches synced, leading).
    public let readiness: @Sendable () -> Readiness
    /// Returns once the database is migrated.
    public let migrated: @Sendable () async throws -> Void
}

/// Services added to the operator's, and what to close after they stop.
public struct OperatorAddition: Sendable {
    public var services: [ServiceGroupConfiguration.ServiceConfiguration]
    public var close: @Sendable () async -> Void

    public init(services: [ServiceGroupConfiguration.ServiceConfiguration], close: @escaping @Sendable () async -> Void)
    {
        self.services = services
        self.close = close
    }
}

extension ReelApplication {
    /// Builds `reel operator`: the informer-backed backend feeding the reconciler's queue, the autoscaler with its
    /// actuator, the optional leader elector, and the health and metrics server; `adding` builds services that run
    /// beside them.
    public static func `operator`(
        _ settings: OperatorSettings, logger: Logger,
        adding: (@Sendable (OperatorContext) async throws -> OperatorAddition)? = nil
    ) async throws -> ReelApplication {
        let client = KubeClient(connection: settings.connection)
        // The database is waited for and migrated by the monitor, while /healthz answers and /readyz says why it
        // is not ready; what needs the tables starts after it.
        let store = try await ObjectStores.connect(settings.storage, scratch: settings.scratch)
        let database = Database(url: settings.databaseURL, maxConnections: 12)
        let monitor = DatabaseMonitor(database: database, migrate: true, logger: logger)
        let registry = OperatorMetrics.bootstrap()
        let events = KubeEventSink(
            recorder: EventRecorder(client: client, instance: settings.identity), logger: logger)
        // The backend is built first (the reconciler reads through it) and feeds the reconciler's queue.
        let keys = WorkQueue<ResourceKey>()
        // What files may name, and what HTTP callers may (`--api-allow-root`).
        let roots = settings.allowedRoots + settings.apiFileRoots
        let backend = KubernetesBackend(
            client: client, namespace: settings.namespace, events: events, logger: logger,
            pending: { await keys.pending }, lastSpec: { try await database.jobs.lastSpec(resourceUID: $0) }
        ) { await keys.addVideoJobs($0) }
        let reconciler = Reconciler(
            database: database, store: store,
            configuration: ReconcilerConfiguration(
                resyncInterval: settings.resync, allowedRoots: AllowedRoots(roots)),
            resources: backend, events: events, workQueue: keys, logger: logger)
        let actuator: any WorkerActuator
        switch settings.workers {
        case .process(let state, let program, let arguments):
            actuator = ChildWorkers.actuator(
                program: program, databaseURL: settings.databaseURL, storage: settings.storage, state: state,
                roots: roots, lease: settings.lease, grace: settings.grace,
                extra: settings.workerArguments + arguments, logger: logger)
        case .kubernetes(var configuration):
            configuration.allowedRoots = roots
            configuration.leaseSeconds = settings.lease.seconds
            configuration.gracePeriodSeconds = Int(settings.grace.seconds)
            configuration.extraArguments = settings.workerArguments
            actuator = DeploymentActuator(client: client, configuration: configuration, logger: logger)
        }
        let autoscaler = Autoscaler(
            database: database, actuator: actuator, resources: backend,
            rescueInterval: ChildWorkers.rescueInterval(lease: settings.lease), logger: logger)
        let elector = settings.leaderElection.map { configuration in
            LeaderElector(client: client, configuration: configuration) { [logger] error in
                logger.warning("cannot acquire or renew the leader lease: \(error)")
            }
        }
        let controller = Controller(
            backend: backend, reconciler: reconciler, autoscaler: autoscaler, elector: elector, logger: logger,
            prerequisite: { try await monitor.untilMigrated() })
        let readiness: @Sendable () -> Readiness = {
            let state = controller.readiness
            return monitor.readiness.and(Readiness(ready: state.ready, detail: state.detail))
        }
        let server = HealthServer(
            healthAddress: settings.healthAddress, metricsAddress: settings.metricsAddress, registry: registry,
            logger: logger, readiness: readiness)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: monitor), .init(service: controller), .init(service: server),
            .init(
                service: Preceded(
                    before: { try await monitor.untilMigrated() },
                    service: APIHousekeeping(database: database, store: store, logger: logger)),
                successTerminationBehavior: .ignore),
        ]
        var closeAdded: (@Sendable () async -> Void)?
        if let adding {
            do {
                let added = try await adding(
                    OperatorContext(
                        client: client, store: store, readiness: readiness,
                        migrated: { try await monitor.untilMigrated() }))
                services += added.services
                closeAdded = added.close
            } catch {
                await database.close()
                throw error
            }
        }
        let closeFirst = closeAdded
        return ReelApplication(services: services + StorageJanitor.services(for: store, logger: logger), logger: logger)
        {
            await closeFirst?()
            await database.close()
        }
    }
}
