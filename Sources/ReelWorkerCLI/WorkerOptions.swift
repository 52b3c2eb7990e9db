import ArgumentParser
import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelKube
import ReelPipeline
import ReelProcess
import ReelSupport

/// What a worker runs with, and how it starts: the options of `reel worker` and of `reel-worker`, which run the
/// same worker (the second without the API server, the operator and Foundation linked in).
public struct WorkerOptions: ParsableArguments {
    public init() {}

    public static let abstract = "Run a worker: claim tasks of the given stages, run them, complete or fail them."
    public static let discussion = """
        SIGTERM or SIGINT stops claiming and waits up to --drain-seconds for running tasks, then hands the rest \
        back to the queue. Gemini: the key comes from GEMINI_API_KEY (never logged or stored), the endpoint \
        from REEL_GEMINI_ENDPOINT. Fault injection for tests: REEL_FAULT_DELAY=stage=seconds[,…] pauses before a \
        stage's results are written.
        """

    @Option(help: "Comma-separated stages: ingest, split, analyze, assemble, render.")
    public var stages: String

    @Option(help: "Tasks run at once.")
    public var concurrency = 1

    @OptionGroup public var data: StoreOptions

    @OptionGroup public var budgets: GeminiBudgetOptions
    @OptionGroup public var sources: SourceOptions

    @Option(help: "The WorkerPool this worker belongs to.")
    public var pool: String?

    @Option(help: "Exit when this process is no longer the parent (children of reel local).")
    public var parentPid: Int32?

    @Option(help: "Lease length in seconds; renewed every third of it.")
    public var leaseSeconds = 30.0

    @Option(help: "How long a shutdown waits for running tasks.")
    public var drainSeconds = 25.0

    @Option(help: "Directory for temporary files (default: the system's).")
    public var scratch: String?

    @Option(help: "Most bytes of scratch space this worker's tasks hold at once; a task that would exceed it waits.")
    public var scratchMaxBytes: Int?

    @Flag(help: "Read the Gemini key Secrets that VideoJobs name (apiKeySecretRef) through the Kubernetes API.")
    public var kubeSecrets = false

    @Option(help: "With --kube-secrets: kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config).")
    public var kubeconfig: String?

    @Option(help: "With --kube-secrets: kubeconfig context.")
    public var context: String?

    /// Resolves the settings and runs the worker until a signal stops it.
    public func run() async throws {
        let logger = CLILogging.logger("reel.worker")
        let settings = ReelConfiguration()
        let url = try settings.require(data.databaseURL, .databaseURL, flagName: "--database-url")
        let storageURL = try settings.require(data.storage, .storage, flagName: "--storage")
        let stageList = try stages.split(separator: ",").map { name in
            let name = String(name).trimmingWhitespace
            guard let stage = Stage(rawValue: name) else {
                let known = Stage.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("unknown stage \"\(name)\" (\(known))")
            }
            return stage
        }
        let roots = data.allowRoot.isEmpty ? [FileManager.default.currentDirectoryPath] : data.allowRoot
        let gemini = try GeminiSettings(
            settings, requestsPerMinute: budgets.geminiRequestsPerMinute, tokensPerMinute: budgets.geminiTokensPerMinute
        )
        var secretReader: (@Sendable (String, SecretKeyRef) async throws -> String)?
        if kubeSecrets {
            let client = KubeClient(connection: try await KubeConfig.connect(kubeconfig: kubeconfig, context: context))
            secretReader = { namespace, ref in
                do {
                    return try await client.secretValue(namespace: namespace, name: ref.name, key: ref.key)
                } catch let error as KubeError where error.isNotFound || error.code == 403 {
                    // Waiting will not make it appear; say which Secret (never its value).
                    throw TaskFailure.permanent(error.code == 403 ? "SecretForbidden" : "SecretNotFound", error.message)
                }
            }
        }
        var pipeline = PipelineConfiguration(
            allowedRoots: AllowedRoots(roots),
            scratchDirectory: scratch
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("reel-scratch").path,
            faultDelays: try settings.faultDelays(),
            gemini: gemini, scratchLimit: scratchMaxBytes)
        pipeline.secretReader = secretReader
        try sources.apply(to: &pipeline)
        let application = try await ReelApplication.worker(
            WorkerSettings(
                databaseURL: url, storage: storageURL,
                pipeline: pipeline,
                worker: WorkerConfiguration(
                    stages: stageList, concurrency: concurrency,
                    lease: .milliseconds(Int(leaseSeconds * 1000)),
                    drainTimeout: .milliseconds(Int(drainSeconds * 1000)), pool: self.pool, parentPID: parentPid)),
            logger: logger)
        try await application.run()
    }
}
