import ArgumentParser
import Foundation
import Logging
import ReelAPI
import ReelApp
import ReelKube
import ReelPipeline
import ReelCore

/// `reel worker`: one worker process (or pod) running tasks of some stages.
struct WorkerCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: claim tasks of the given stages, run them, complete or fail them.",
        discussion: """
            SIGTERM or SIGINT stops claiming and waits up to --drain-seconds for running tasks, then hands the rest \
            back to the queue. Gemini: the key comes from GEMINI_API_KEY (never logged or stored), the endpoint \
            from REEL_GEMINI_ENDPOINT. Fault injection for tests: REEL_FAULT_DELAY=stage=seconds[,…] pauses before a \
            stage's results are written.
            """)

    @Option(help: "Comma-separated stages: ingest, split, analyze, assemble, render.")
    var stages: String

    @Option(help: "Tasks run at once.")
    var concurrency = 1

    @OptionGroup var data: StoreOptions

    @OptionGroup var budgets: GeminiBudgetOptions
    @OptionGroup var sources: SourceOptions

    @Option(help: "The WorkerPool this worker belongs to.")
    var pool: String?

    @Option(help: "Exit when this process is no longer the parent (children of reel local).")
    var parentPid: Int32?

    @Option(help: "Lease length in seconds; renewed every third of it.")
    var leaseSeconds = 30.0

    @Option(help: "How long a shutdown waits for running tasks.")
    var drainSeconds = 25.0

    @Option(help: "Directory for temporary files (default: the system's).")
    var scratch: String?

    @Option(help: "Most bytes of scratch space this worker's tasks hold at once; a task that would exceed it waits.")
    var scratchMaxBytes: Int?

    @Flag(help: "Read the Gemini key Secrets that VideoJobs name (apiKeySecretRef) through the Kubernetes API.")
    var kubeSecrets = false

    @Option(help: "With --kube-secrets: kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "With --kube-secrets: kubeconfig context.")
    var context: String?

    func run() async throws {
        let logger = CLILogging.logger("reel.worker")
        let settings = ReelConfiguration()
        let url = try settings.require(data.databaseURL, .databaseURL, flagName: "--database-url")
        let storageURL = try settings.require(data.storage, .storage, flagName: "--storage")
        let stageList = try stages.split(separator: ",").map { name in
            let name = String(name).trimmingCharacters(in: .whitespaces)
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
