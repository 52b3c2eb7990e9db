import ArgumentParser
import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelHealth
import ReelKube
import ReelOperator
import ReelProcess
import ReelSupport
import ReelWorkerCLI

#if canImport(Glibc)
    import Glibc
#endif

/// The flags of `reel operator` but the REST API's: `reel-operator` takes exactly these, and `reel operator`
/// hands a command line without `--api-addr` to it.
public struct OperatorOptions: ParsableArguments {
    public static let abstract =
        "Run the Kubernetes operator: reconcile VideoJobs and scale WorkerPools from an API server."
    public static let discussion = """
        Connects with --kubeconfig, else in-cluster (service account) when KUBERNETES_SERVICE_HOST is set, else \
        $KUBECONFIG or ~/.kube/config. Watches VideoJobs and WorkerPools in --namespace (all namespaces without \
        it), keeps their work in PostgreSQL, writes status through /status and Events, and runs workers as \
        child processes (--worker-runtime process) or one Deployment per pool (kubernetes). With \
        --leader-elect only the holder of the Lease reconciles; the others stand by with warm caches. \
        /healthz and /readyz on --health-addr, Prometheus /metrics on --metrics-addr.
        """

    public init() {}

    @Option(help: "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config).")
    public var kubeconfig: String?

    @Option(help: "kubeconfig context (default: its current-context).")
    public var context: String?

    @Option(help: "Watch only this namespace (default: all namespaces).")
    public var namespace: String?

    @Flag(help: "Reconcile only while holding the Lease (run several replicas, one leads).")
    public var leaderElect = false

    @Option(help: "Namespace of the Lease and of default pools' Deployments (default: the connection's namespace).")
    public var leaderElectionNamespace: String?

    @Option(help: "Name of the Lease.")
    public var leaderElectionID = "reel-operator"

    @Option(help: "This instance's name in the Lease (default: hostname_pid).")
    public var identity: String?

    @Option(help: "Leader election: how long a lease lasts without renewal (seconds).")
    public var leaseDuration = 15.0

    @Option(help: "Leader election: a leader that cannot renew for this long stops reconciling (seconds).")
    public var renewDeadline = 10.0

    @Option(help: "Leader election: how often to try to acquire or renew (seconds).")
    public var retryPeriod = 2.0

    @Option(help: "Where workers run: process (child processes) or kubernetes (a Deployment per pool).")
    public var workerRuntime: WorkerRuntime = .process

    @Option(help: "Address of /healthz and /readyz (HOST:PORT or :PORT).")
    public var healthAddr = ":8081"

    @Option(help: "Address of /metrics (HOST:PORT or :PORT); \"0\" serves it with the health endpoints.")
    public var metricsAddr = ":8080"

    @Option(
        help: ArgumentHelp(
            "Process runtime: directory for worker logs and scratch space (default: $REEL_STATE_DIR or "
                + "./.reel-operator).")
    )
    public var state: String?

    @Option(help: "Kubernetes runtime: the worker image.")
    public var workerImage = "ghcr.io/reel-dev/reel:\(API.reelVersion)"

    @Option(
        help:
            "Kubernetes runtime: the Secret (keys databaseURL, storage) the worker pods read, in each pool's namespace."
    )
    public var workerSecret = "reel-worker"

    @Option(
        help: "Kubernetes runtime: the worker pods' service account (it reads the Gemini key Secrets VideoJobs name).")
    public var workerServiceAccount: String?

    @Option(
        help: "Kubernetes runtime: container resources (JSON, as in a Pod spec) for pools whose template names none.")
    public var workerResources: String?

    @Option(
        help: ArgumentHelp(
            "Kubernetes runtime: a PersistentVolumeClaim the worker pods mount at --worker-data-path (shared "
                + "file:// storage).")
    )
    public var workerDataClaim: String?

    @Option(help: "Kubernetes runtime: where the worker pods mount --worker-data-claim.")
    public var workerDataPath = "/data"

    @Option(help: "Task lease length in seconds (a killed worker's task runs again after it).")
    public var leaseSeconds = 30.0

    @Option(help: "How long a stopping worker may drain before it is killed (seconds).")
    public var graceSeconds = 30.0

    @Option(help: "How often every resource is reconciled regardless of events (seconds).")
    public var resyncSeconds = 300.0

    @OptionGroup public var data: StoreOptions

    @OptionGroup public var budgets: GeminiBudgetOptions
    @OptionGroup public var sources: SourceOptions

    public enum WorkerRuntime: String, ExpressibleByArgument, CaseIterable, Sendable {
        case process, kubernetes
    }

    /// The state directory of process workers (and of the API's signing key), absolute.
    public var stateDirectory: String {
        Paths.absolute(ReelConfiguration().value(state, .stateDirectory, default: ".reel-operator"))
    }

    /// `reel` in this executable's directory: `reel-operator` runs its process workers as `reel-worker` from there,
    /// or as `reel worker` (`ChildWorkers.program(beside:)`).
    public static var reelBesideThisExecutable: String {
        Paths.appending(Paths.deletingLastComponent(WorkerCommand.currentExecutable), "reel")
    }

    /// Runs the operator that `build` makes of these settings (by default the operator alone); process workers run
    /// as `reel-worker …` beside WORKER-EXECUTABLE, or as `WORKER-EXECUTABLE worker …`.
    public func run(
        workerExecutable: String = WorkerCommand.currentExecutable,
        _ build: (OperatorSettings, Logger) async throws -> ReelApplication = { settings, logger in
            try await ReelApplication.operator(settings, logger: logger)
        }
    ) async throws {
        let logger = CLILogging.logger("reel.operator")
        let settings = try await settings(workerExecutable: workerExecutable)
        let application = try await build(settings, logger)
        let scope = settings.namespace ?? "(all)"
        logger.info(
            """
            reel operator \(API.reelVersion): \(settings.connection.server), namespace \(scope), \
            identity \(settings.identity), workers: \(workerRuntime.rawValue)
            """)
        try await application.run()
    }

    /// The operator's settings: flags, then the environment; connects to nothing but reads the kubeconfig.
    public func settings(workerExecutable: String) async throws -> OperatorSettings {
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
        let homeNamespace = leaderElectionNamespace ?? connection.namespace
        let instance = identity ?? "\(ProcessInfo.processInfo.hostName)_\(getpid())"
        let workers: OperatorSettings.Workers
        switch workerRuntime {
        case .process:
            let program: WorkerProgram
            do {
                program = try ChildWorkers.program(beside: workerExecutable)
            } catch {
                throw ValidationError(error.description)
            }
            let stateDirectory = self.stateDirectory
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let kubeArguments =
                ["--kube-secrets"] + (kubeconfig.map { ["--kubeconfig", Paths.absolute($0)] } ?? [])
                + (context.map { ["--context", $0] } ?? [])
            workers = .process(
                state: stateDirectory, program: program, arguments: kubeArguments)
        case .kubernetes:
            workers = .kubernetes(
                KubeWorkerConfiguration(
                    image: workerImage, serviceAccountName: workerServiceAccount, secretName: workerSecret,
                    namespace: homeNamespace, resources: try resourcesJSON(), dataClaim: workerDataClaim,
                    dataPath: workerDataPath))
        }
        var options = OperatorSettings(
            databaseURL: url, storage: storageURL, connection: connection, identity: instance, workers: workers,
            healthAddress: health)
        options.allowedRoots = data.allowRoot.map(Paths.absolute)
        options.namespace = namespace
        options.metricsAddress = metricsAddress
        options.lease = .seconds(leaseSeconds)
        options.grace = .seconds(graceSeconds)
        options.resync = .seconds(resyncSeconds)
        options.workerArguments = budgets.workerArguments + sources.workerArguments
        if leaderElect {
            options.leaderElection = LeaderElectionConfiguration(
                namespace: homeNamespace, name: leaderElectionID, identity: instance,
                leaseDuration: .seconds(leaseDuration), renewDeadline: .seconds(renewDeadline),
                retryPeriod: .seconds(retryPeriod))
        }
        return options
    }

    /// `--worker-resources`, which must be a JSON object.
    private func resourcesJSON() throws -> JSONValue? {
        guard let workerResources else { return nil }
        let resources: JSONValue
        do {
            resources = try JSONDecoder().decode(JSONValue.self, from: Data(workerResources.utf8))
        } catch {
            throw ValidationError("--worker-resources is not JSON: \(error)")
        }
        guard case .object = resources else { throw ValidationError("--worker-resources must be a JSON object") }
        return resources
    }
}
