import Logging
import ReelStorage
import ReelStore
import ServiceLifecycle
import UnixSignals

/// A Reel process put together: its services and what to close once they have stopped. `reel local`,
/// `reel operator`, `reel worker` and the tests build theirs with `local`, `operator` (ReelApp) and `worker` (here,
/// without the API server, so that `reel-worker` links none of it), from settings the command line (or a test)
/// has already resolved, so that there is one way to assemble each.
public struct ReelApplication {
    public var services: [ServiceGroupConfiguration.ServiceConfiguration]
    public var logger: Logger
    /// Closes the database pool (and whatever else the build opened), after the services have stopped.
    package var close: @Sendable () async -> Void

    package init(
        services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger,
        close: @escaping @Sendable () async -> Void
    ) {
        self.services = services
        self.logger = logger
        self.close = close
    }

    /// Runs the services until they end or one of `signals` arrives, then closes what the build opened — also
    /// when a service fails, whose error is then thrown.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: signals, logger: logger))
        do {
            try await group.run()
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// How long a process waits at start for PostgreSQL to take connections (down, starting, restarting).
    public static let databasePatience: Duration = .seconds(300)

    /// The store and a migrated database pool: what every process opens first. A store that cannot be opened (an
    /// S3 bucket that is missing or out of the credentials' reach) fails before the database is touched; a
    /// database that does not take connections yet is waited for (`databasePatience`).
    package static func open(databaseURL: String, storage: String, scratch: String, connections: Int, logger: Logger)
        async throws -> (Database, any ObjectStore)
    {
        let store = try await ObjectStores.connect(storage, scratch: scratch)
        try await Database.migrate(url: databaseURL, logger: logger, patience: databasePatience)
        return (Database(url: databaseURL, maxConnections: connections), store)
    }
}
