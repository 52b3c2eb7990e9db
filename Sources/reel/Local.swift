import ArgumentParser
import Foundation
import Logging
import ReelOperator
import ReelPipeline
import ReelCore
import ReelStorage
import ReelStore
import ServiceLifecycle

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

    func run() async throws {
        // On a terminal the progress block is the display: log only warnings and errors into it.
        let logger = CLILogging.logger("reel.local", level: isatty(STDOUT_FILENO) == 1 ? .warning : .info)
        let stateDirectory = StateDatabase.stateDirectory(state)
        var isDirectory: ObjCBool = false
        let resourcesDirectory = Paths.absolute(resources)
        guard FileManager.default.fileExists(atPath: resourcesDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw ValidationError("--resources \(resources) is not a directory")
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let lock = try StateDatabase.lock(stateDirectory)
        defer { unlink(lock) }
        let database = try await StateDatabase.open(
            state: stateDirectory, databaseURL: data.databaseURL, logger: logger)
        let storageURL =
            ReelConfiguration().value(data.storage, .storage, default: "file://\(stateDirectory)/store")
        let store = try ObjectStores.open(storageURL)
        let roots = [resourcesDirectory, FileManager.default.currentDirectoryPath] + data.allowRoot.map(Paths.absolute)
        let pool = Database(url: database.url, maxConnections: 12)
        let table = pool.resources
        let reconciler = Reconciler(
            database: pool, store: store,
            configuration: ReconcilerConfiguration(
                resyncInterval: .milliseconds(Int(resyncSeconds * 1000)), statusDirectory: "\(stateDirectory)/status",
                allowedRoots: AllowedRoots(roots)),
            resources: table, logger: logger)
        let backend = DirectoryBackend(
            directory: resourcesDirectory, table: table, logger: logger,
            pollInterval: .milliseconds(Int(pollSeconds * 1000))
        ) { keys in await reconciler.enqueue(keys) }
        let actuator = ChildWorkers.actuator(
            databaseURL: database.url, storage: storageURL, state: stateDirectory, roots: roots,
            leaseSeconds: leaseSeconds, graceSeconds: graceSeconds,
            extra: budgets.workerArguments,
            logger: logger)
        let autoscaler = Autoscaler(
            database: pool, actuator: actuator, resources: table,
            rescueInterval: .milliseconds(Int(max(0.5, leaseSeconds / 2) * 1000)), logger: logger)
        let monitor = LocalMonitor(
            table: table, backend: backend, untilDone: untilDone,
            timeout: timeout.map { .milliseconds(Int($0 * 1000)) }, logger: logger)
        logger.info("reel local: resources \(resourcesDirectory), state \(stateDirectory), storage \(store.baseURI)")
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: backend), .init(service: reconciler), .init(service: autoscaler),
                    .init(service: monitor, successTerminationBehavior: untilDone ? .gracefullyShutdownGroup : .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await pool.close()
            await database.close(force: true)
            throw error
        }
        await pool.close()
        await database.close(force: true)
        if let outcome = monitor.outcome, outcome != .succeeded { throw ExitCode(outcome.rawValue) }
    }
}

/// `reel worker` child processes, as `reel local` and `reel operator --worker-runtime process` start them.
enum ChildWorkers {
    /// A process actuator whose workers use this database, storage and roots, keep their logs in `STATE/logs`
    /// and their scratch files in `STATE/scratch`, and exit when this process dies.
    static func actuator(
        databaseURL: String, storage: String, state: String, roots: [String], leaseSeconds: Double,
        graceSeconds: Double, extra: [String], logger: Logger
    ) -> ProcessActuator {
        let arguments =
            [
                "worker", "--database-url", databaseURL, "--storage", storage, "--parent-pid", "\(getpid())",
                "--lease-seconds", "\(leaseSeconds)", "--drain-seconds", "\(max(1, graceSeconds - 5))",
                "--scratch", "\(state)/scratch",
            ] + roots.flatMap { ["--allow-root", $0] } + extra
        return ProcessActuator(
            command: WorkerCommand(
                executable: WorkerCommand.currentExecutable, arguments: arguments, logDirectory: "\(state)/logs",
                gracePeriod: .milliseconds(Int(graceSeconds * 1000))),
            logger: logger)
    }
}
