import ArgumentParser
import Foundation
import Logging
import ReelApp
import ReelCore
import ReelOperator
import ReelServer
import ReelStore
import ReelWorkerCLI
import ReelProcess
import ReelOperatorApp
import ReelSupport

/// `reel local`: the whole system on one machine.
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Process a directory of VideoJobs on this machine.",
        discussion: """
            Starts an embedded PostgreSQL in the state directory (unless --database-url), filesystem storage under \
            it (unless --storage), the YAML-directory backend, the reconciler, the autoscaler and `reel worker` \
            child processes. With --until-done it exits when every VideoJob is finished: 0 if all succeeded, 1 if \
            any failed or a resource file is invalid, 2 on --timeout.
            """)

    @Option(help: "Directory of VideoJob and WorkerPool YAML files (watched).")
    var resources: String

    @Option(help: "State directory: database, storage, logs, status mirror (default: $REEL_STATE_DIR or ./.reel).")
    var state: String?

    @OptionGroup var data: StoreOptions

    @OptionGroup var budgets: GeminiBudgetOptions
    @OptionGroup var sources: SourceOptions

    @Flag(help: "Exit once every VideoJob has succeeded or failed.")
    var untilDone = false

    @Option(help: "With --until-done: give up after this many seconds (exit 2).")
    var timeout: Double?

    @Option(help: "Task lease length in seconds (a killed worker's task runs again after it).")
    var leaseSeconds = 30.0

    @Option(help: "How often every resource is reconciled regardless of events.")
    var resyncSeconds = 30.0

    @Option(help: "How often the resources directory is read.")
    var pollSeconds = 1.0

    @Option(help: "How long a stopping worker may drain before it is killed.")
    var graceSeconds = 30.0

    @Option(help: "Also serve the REST API on this address (HOST:PORT or :PORT); see `reel serve`.")
    var apiAddr: String?

    @OptionGroup(title: "REST API (with --api-addr)") var api: APIFlags

    func run() async throws {
        // On a terminal the progress block is the display: log only warnings and errors into it.
        let logger = CLILogging.logger("reel.local", level: isatty(STDOUT_FILENO) == 1 ? .warning : .info)
        var isDirectory: ObjCBool = false
        let resourcesDirectory = Paths.absolute(resources)
        guard FileManager.default.fileExists(atPath: resourcesDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw ValidationError("--resources \(resources) is not a directory")
        }
        let configuration = ReelConfiguration()
        var settings = LocalSettings(resources: resourcesDirectory, state: StateDatabase.stateDirectory(state))
        settings.databaseURL = configuration.value(data.databaseURL, .databaseURL)
        settings.storage = configuration.value(data.storage, .storage)
        settings.allowedRoots = data.allowRoot.map(Paths.absolute)
        settings.untilDone = untilDone
        settings.timeout = timeout.map { .seconds($0) }
        settings.lease = .seconds(leaseSeconds)
        settings.resync = .seconds(resyncSeconds)
        settings.poll = .seconds(pollSeconds)
        settings.grace = .seconds(graceSeconds)
        settings.workerArguments = budgets.workerArguments + sources.workerArguments
        settings.api = apiAddr.map { api.options(address: $0) }
        let local = try await CLIFailure.building { try await ReelApplication.local(settings, logger: logger) }
        logger.info("reel local: resources \(resourcesDirectory), state \(settings.state), storage \(local.storeURI)")
        try await local.run()
        if let outcome = local.outcome, outcome != .succeeded { throw ExitCode(outcome.rawValue) }
    }
}
