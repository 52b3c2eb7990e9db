import ArgumentParser
import Foundation
import Logging
import ReelAPI
import ReelKube
import ReelOperator
import ReelPipeline
import ReelCore
import ReelServer
import ReelStorage
import ReelStore
import ServiceLifecycle

/// `reel operator`: the Kubernetes controller.
struct OperatorCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Run the Kubernetes operator: reconcile VideoJobs and scale WorkerPools from an API server.",
        discussion: """
            Connects with --kubeconfig, else in-cluster (service account) when KUBERNETES_SERVICE_HOST is set, else \
            $KUBECONFIG or ~/.kube/config. Watches VideoJobs and WorkerPools in --namespace (all namespaces without \
            it), keeps their work in PostgreSQL, writes status through /status and Events, and runs workers as \
            child processes (--worker-runtime process) or one Deployment per pool (kubernetes). With \
            --leader-elect only the holder of the Lease reconciles; the others stand by with warm caches. \
            /healthz and /readyz on --health-addr, Prometheus /metrics on --metrics-addr.
            """)

    @Option(help: "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "kubeconfig context (default: its current-context).")
    var context: String?

    @Option(help: "Watch only this namespace (default: all namespaces).")
    var namespace: String?

    @Flag(help: "Reconcile only while holding the Lease (run several replicas, one leads).")
    var leaderElect = false

    @Option(help: "Namespace of the Lease and of default pools' Deployments (default: the connection's namespace).")
    var leaderElectionNamespace: String?

    @Option(help: "Name of the Lease.")
    var leaderElectionID = "reel-operator"

    @Option(help: "This instance's name in the Lease (default: hostname_pid).")
    var identity: String?

    @Option(help: "Leader election: how long a lease lasts without renewal (seconds).")
    var leaseDuration = 15.0

    @Option(help: "Leader election: a leader that cannot renew for this long stops reconciling (seconds).")
    var renewDeadline = 10.0

    @Option(help: "Leader election: how often to try to acquire or renew (seconds).")
    var retryPeriod = 2.0

    @Option(help: "Where workers run: process (child processes) or kubernetes (a Deployment per pool).")
    var workerRuntime: WorkerRuntime = .process

    @Option(help: "Address of /healthz and /readyz (HOST:PORT or :PORT).")
    var healthAddr = ":8081"

    @Option(help: "Address of /metrics (HOST:PORT or :PORT); \"0\" serves it with the health endpoints.")
    var metricsAddr = ":8080"

    @Option(
        help: ArgumentHelp(
            "Process runtime: directory for worker logs and scratch space (default: $REEL_STATE_DIR or "
                + "./.reel-operator).")
    )
    var state: String?

    @Option(help: "Kubernetes runtime: the worker image.")
    var workerImage = "ghcr.io/reel-dev/reel:\(API.reelVersion)"

    @Option(
        help:
            "Kubernetes runtime: the Secret (keys databaseURL, storage) the worker pods read, in each pool's namespace."
    )
    var workerSecret = "reel-worker"

    @Option(
        help: "Kubernetes runtime: the worker pods' service account (it reads the Gemini key Secrets VideoJobs name).")
    var workerServiceAccount: String?

    @Option(
        help: "Kubernetes runtime: container resources (JSON, as in a Pod spec) for pools whose template names none.")
    var workerResources: String?

    @Option(
        help: ArgumentHelp(
            "Kubernetes runtime: a PersistentVolumeClaim the worker pods mount at --worker-data-path (shared "
                + "file:// storage).")
    )
    var workerDataClaim: String?

    @Option(help: "Kubernetes runtime: where the worker pods mount --worker-data-claim.")
    var workerDataPath = "/data"

    @Option(help: "Task lease length in seconds (a killed worker's task runs again after it).")
    var leaseSeconds = 30.0

    @Option(help: "How long a stopping worker may drain before it is killed (seconds).")
    var graceSeconds = 30.0

    @Option(help: "How often every resource is reconciled regardless of events (seconds).")
    var resyncSeconds = 300.0

    @OptionGroup var data: StoreOptions

    @OptionGroup var budgets: GeminiBudgetOptions

    enum WorkerRuntime: String, ExpressibleByArgument, CaseIterable {
        case process, kubernetes
    }

    func run() async throws {
        let logger = CLILogging.logger("reel.operator")
        let settings = ReelConfiguration()
        let url = try settings.require(data.databaseURL, .databaseURL, flagName: "--database-url")
        let storageURL = try settings.require(data.storage, .storage, flagName: "--storage")
        let health = try HealthServer.address(healthAddr)
        let metricsAddress = metricsAddr == "0" ? nil : try HealthServer.address(metricsAddr)
        let connection: KubeConnection
        do {
            connection = try await KubeConfig.connect(kubeconfig: kubeconfig, context: context)
        } catch {
            throw ValidationError("\(error)")
        }
        let client = KubeClient(connection: connection)
        let homeNamespace = leaderElectionNamespace ?? connection.namespace
        let instance = identity ?? "\(ProcessInfo.processInfo.hostName)_\(getpid())"
        let store = try ObjectStores.open(storageURL)
        try await Database.migrate(url: url, logger: logger)
        let registry = OperatorMetrics.bootstrap()
        let pool = Database(url: url, maxConnections: 12)
        let roots = data.allowRoot.map(Paths.absolute)
        let events = KubeEventSink(recorder: EventRecorder(client: client, instance: instance), logger: logger)
        // The backend is built first (the reconciler reads through it) and feeds the reconciler's queue.
        let keys = WorkQueue<ResourceKey>()
        let backend = KubernetesBackend(client: client, namespace: namespace, events: events, logger: logger) {
            await keys.addVideoJobs($0)
        }
        let reconciler = Reconciler(
            database: pool, store: store,
            configuration: ReconcilerConfiguration(
                resyncInterval: .milliseconds(Int(resyncSeconds * 1000)), allowedRoots: AllowedRoots(roots)),
            resources: backend, events: events, workQueue: keys, logger: logger)
        let budgetArguments = budgets.workerArguments
        let actuator: any WorkerActuator
        switch workerRuntime {
        case .process:
            let stateDirectory = Paths.absolute(settings.value(state, .stateDirectory, default: ".reel-operator"))
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let kubeArguments =
                ["--kube-secrets"] + (kubeconfig.map { ["--kubeconfig", Paths.absolute($0)] } ?? [])
                + (context.map { ["--context", $0] } ?? [])
            actuator = ChildWorkers.actuator(
                databaseURL: url, storage: storageURL, state: stateDirectory, roots: roots, leaseSeconds: leaseSeconds,
                graceSeconds: graceSeconds, extra: budgetArguments + kubeArguments, logger: logger)
        case .kubernetes:
            var resources: JSONValue? = nil
            if let workerResources {
                do {
                    resources = try JSONDecoder().decode(JSONValue.self, from: Data(workerResources.utf8))
                } catch {
                    throw ValidationError("--worker-resources is not JSON: \(error)")
                }
                guard case .object = resources else {
                    throw ValidationError("--worker-resources must be a JSON object")
                }
            }
            actuator = DeploymentActuator(
                client: client,
                configuration: KubeWorkerConfiguration(
                    image: workerImage, serviceAccountName: workerServiceAccount, secretName: workerSecret,
                    namespace: homeNamespace, resources: resources, allowedRoots: roots, leaseSeconds: leaseSeconds,
                    gracePeriodSeconds: Int(graceSeconds), extraArguments: budgetArguments, dataClaim: workerDataClaim,
                    dataPath: workerDataPath),
                logger: logger)
        }
        let autoscaler = Autoscaler(
            database: pool, actuator: actuator, resources: backend,
            rescueInterval: .milliseconds(Int(max(0.5, leaseSeconds / 2) * 1000)), logger: logger)
        let elector =
            leaderElect
            ? LeaderElector(
                client: client,
                configuration: LeaderElectionConfiguration(
                    namespace: homeNamespace, name: leaderElectionID, identity: instance,
                    leaseDuration: .milliseconds(Int(leaseDuration * 1000)),
                    renewDeadline: .milliseconds(Int(renewDeadline * 1000)),
                    retryPeriod: .milliseconds(Int(retryPeriod * 1000)))
            ) { [logger] error in logger.warning("cannot acquire or renew the leader lease: \(error)") }
            : nil
        let controller = Controller(
            backend: backend, reconciler: reconciler, autoscaler: autoscaler, elector: elector, logger: logger)
        let server = HealthServer(
            healthAddress: health, metricsAddress: metricsAddress, registry: registry, logger: logger
        ) {
            let state = controller.readiness
            return Readiness(ready: state.ready, detail: state.detail)
        }
        let scope = namespace ?? "(all)"
        logger.info(
            """
            reel operator \(API.reelVersion): \(connection.server), namespace \(scope), identity \(instance), \
            workers: \(workerRuntime.rawValue)
            """)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: controller), .init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await pool.close()
    }
}
