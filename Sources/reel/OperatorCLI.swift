import ArgumentParser
import Foundation
import Logging
import ReelAPI
import ReelApp
import ReelKube
import ReelOperator
import ReelCore
import ReelServer
import ReelStore
import ReelWorkerCLI
import ReelProcess

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

    @Option(help: "Also serve the REST API on this address (HOST:PORT or :PORT); see `reel serve`.")
    var apiAddr: String?

    @OptionGroup(title: "REST API (with --api-addr)") var api: APIFlags

    @OptionGroup var data: StoreOptions

    @OptionGroup var budgets: GeminiBudgetOptions
    @OptionGroup var sources: SourceOptions

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
        let homeNamespace = leaderElectionNamespace ?? connection.namespace
        let instance = identity ?? "\(ProcessInfo.processInfo.hostName)_\(getpid())"
        let workers: OperatorSettings.Workers
        switch workerRuntime {
        case .process:
            let stateDirectory = Paths.absolute(settings.value(state, .stateDirectory, default: ".reel-operator"))
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let kubeArguments =
                ["--kube-secrets"] + (kubeconfig.map { ["--kubeconfig", Paths.absolute($0)] } ?? [])
                + (context.map { ["--context", $0] } ?? [])
            workers = .process(
                state: stateDirectory, executable: WorkerCommand.currentExecutable, arguments: kubeArguments)
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
        if let apiAddr {
            options.api = api.options(address: apiAddr)
            if options.api?.signingKeyFile == nil, workerRuntime == .process {
                options.apiState = Paths.absolute(settings.value(state, .stateDirectory, default: ".reel-operator"))
            }
        }
        if leaderElect {
            options.leaderElection = LeaderElectionConfiguration(
                namespace: homeNamespace, name: leaderElectionID, identity: instance,
                leaseDuration: .seconds(leaseDuration), renewDeadline: .seconds(renewDeadline),
                retryPeriod: .seconds(retryPeriod))
        }
        let application = try await CLIFailure.building { try await ReelApplication.operator(options, logger: logger) }
        let scope = namespace ?? "(all)"
        logger.info(
            """
            reel operator \(API.reelVersion): \(connection.server), namespace \(scope), identity \(instance), \
            workers: \(workerRuntime.rawValue)
            """)
        try await application.run()
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
