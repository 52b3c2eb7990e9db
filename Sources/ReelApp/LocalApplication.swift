import Foundation
import Logging
import ReelCore
import ReelOperator
import ReelServer
import ReelStorage
import ReelStore
import ServiceLifecycle
import UnixSignals
import ReelProcess
import ReelOperatorApp
import ReelHealth

/// What `reel local` runs on: resolved settings (the command line's flags, `REEL_*` and defaults already applied).
public struct LocalSettings: Sendable {
    /// The watched directory of VideoJob and WorkerPool files (absolute).
    public var resources: String
    /// The state directory (absolute): embedded database, storage, logs, status mirror.
    public var state: String
    /// An external database; `nil` starts the embedded one in the state directory.
    public var databaseURL: String?
    /// The object store URL; `nil` is `file://STATE/store`.
    public var storage: String?
    /// Directories `file://` URIs may name besides the resources directory and the working directory.
    public var allowedRoots: [String] = []
    /// Stop once every VideoJob has finished (`LocalApplication.outcome` tells how).
    public var untilDone = false
    public var timeout: Duration?
    public var lease: Duration = .seconds(30)
    public var resync: Duration = .seconds(30)
    public var poll: Duration = .seconds(1)
    public var grace: Duration = .seconds(30)
    /// Extra `reel worker` arguments (Gemini budgets).
    public var workerArguments: [String] = []
    /// The `reel` executable the workers run (a test names the built one; otherwise this process's own).
    public var workerExecutable: String = WorkerCommand.currentExecutable
    /// Serve the REST API too (`--api-addr`).
    public var api: APIOptions?
    /// Told the API's port once it listens.
    public var onAPIRunning: @Sendable (Int) async -> Void = { _ in }

    public init(resources: String, state: String) {
        self.resources = resources
        self.state = state
    }
}

/// `reel local` built: the directory backend, reconciler, autoscaler with child workers, and the monitor.
public struct LocalApplication {
    public var application: ReelApplication
    public var monitor: LocalMonitor
    /// Where the objects are kept.
    public var storeURI: String

    /// With `untilDone`: how the run ended, once `run()` has returned.
    public var outcome: LocalMonitor.Outcome? { monitor.outcome }

    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await application.run(signals: signals)
    }
}

extension ReelApplication {
    /// Builds `reel local`: claims the state directory, starts the embedded database unless one is named, and
    /// wires the system together. Nothing runs until `run()`.
    public static func local(_ settings: LocalSettings, logger: Logger) async throws -> LocalApplication {
        let state = settings.state
        let workerProgram = try ChildWorkers.program(beside: settings.workerExecutable)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let lock = try StateDatabase.lock(state)
        let database: StateDatabase
        let store: any ObjectStore
        let storage = settings.storage ?? "file://\(state)/store"
        do {
            store = try await ObjectStores.connect(storage, scratch: "\(state)/scratch")
            database = try await StateDatabase.open(state: state, databaseURL: settings.databaseURL, logger: logger)
        } catch {
            unlink(lock)
            throw error
        }
        // Workers may read what files may name, and what HTTP callers may name (`--api-allow-root`).
        let roots =
            [settings.resources, FileManager.default.currentDirectoryPath] + settings.allowedRoots
            + (settings.api?.fileRoots ?? [])
        let pool = Database(url: database.url, maxConnections: 12)
        let table = pool.resources
        let reconciler = Reconciler(
            database: pool, store: store,
            configuration: ReconcilerConfiguration(
                resyncInterval: settings.resync, statusDirectory: "\(state)/status", allowedRoots: AllowedRoots(roots)),
            resources: table, logger: logger)
        let backend = DirectoryBackend(
            directory: settings.resources, table: table, logger: logger, pollInterval: settings.poll
        ) { keys in await reconciler.enqueue(keys) }
        let actuator = ChildWorkers.actuator(
            program: workerProgram, databaseURL: database.url, storage: storage, state: state,
            roots: roots, lease: settings.lease, grace: settings.grace, extra: settings.workerArguments, logger: logger)
        let autoscaler = Autoscaler(
            database: pool, actuator: actuator, resources: table,
            rescueInterval: ChildWorkers.rescueInterval(lease: settings.lease), logger: logger)
        let monitor = LocalMonitor(
            table: table, backend: backend, untilDone: settings.untilDone, timeout: settings.timeout, logger: logger)
        let databaseMonitor = DatabaseMonitor(database: pool, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: backend), .init(service: reconciler), .init(service: autoscaler),
            .init(service: databaseMonitor, successTerminationBehavior: .ignore),
            .init(
                service: monitor, successTerminationBehavior: settings.untilDone ? .gracefullyShutdownGroup : .ignore),
            .init(
                service: APIHousekeeping(database: pool, store: store, logger: logger),
                successTerminationBehavior: .ignore),
        ]
        var built: (service: Preceded, database: APIDatabase)?
        if let options = settings.api {
            do {
                built = try await api(
                    options, databaseURL: database.url, store: store, state: state, logger: logger,
                    readiness: { databaseMonitor.readiness }, onRunning: settings.onAPIRunning)
            } catch {
                await pool.close()
                await database.close(force: true)
                unlink(lock)
                throw error
            }
        }
        let apiDatabase = built?.database
        if let built { services.append(.init(service: built.service)) }
        let application = ReelApplication(
            services: services + StorageJanitor.services(for: store, logger: logger),
            logger: logger
        ) {
            await apiDatabase?.close()
            await pool.close()
            await database.close(force: true)
            unlink(lock)
        }
        return LocalApplication(application: application, monitor: monitor, storeURI: store.baseURI)
    }
}
