import Foundation
import Logging
import ReelCore
import ReelKube
import ReelOperator
import ReelServer
import ReelStorage
import ReelStore
import ServiceLifecycle
import ReelProcess
import ReelOperatorApp
import ReelHealth

/// What `reel serve` runs on.
public struct ServeSettings: Sendable {
    public var api: APIOptions
    /// The database; `nil`: the state directory's (a running `reel local`'s, or started here).
    public var databaseURL: String?
    /// The object store; `nil`: `file://STATE/store`.
    public var storage: String?
    /// The state directory (absolute).
    public var state: String
    /// Resources from this API server; `nil`: the resources table.
    public var kubernetes: KubeConnection?
    /// Told the port once the server listens.
    public var onRunning: @Sendable (Int) async -> Void = { _ in }

    public init(api: APIOptions, state: String) {
        self.api = api
        self.state = state
    }
}

extension ReelApplication {
    /// Builds `reel serve`: the REST API alone, over the database, store and resources a `reel local` or
    /// `reel operator` works from.
    public static func serve(_ settings: ServeSettings, logger: Logger) async throws -> ReelApplication {
        try FileManager.default.createDirectory(atPath: settings.state, withIntermediateDirectories: true)
        let database = try await StateDatabase.open(
            state: settings.state, databaseURL: settings.databaseURL, logger: logger)
        do {
            let (pool, store) = try await open(
                databaseURL: database.url, storage: settings.storage ?? "file://\(settings.state)/store",
                scratch: "\(settings.state)/scratch", connections: 2, logger: logger)
            var writer: (@Sendable (APIDatabase, String) -> any ResourceWriter)?
            if let connection = settings.kubernetes {
                let client = KubeClient(connection: connection)
                writer = { _, _ in KubernetesWriter(client: client) }
            }
            let monitor = DatabaseMonitor(database: pool, logger: logger)
            let api = try await api(
                settings.api, databaseURL: database.url, store: store, state: settings.state, writer: writer,
                logger: logger, readiness: { monitor.readiness }, onRunning: settings.onRunning)
            let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: api.service), .init(service: monitor, successTerminationBehavior: .ignore),
            ]
            return ReelApplication(services: services, logger: logger) {
                await api.database.close()
                await pool.close()
                await database.close()
            }
        } catch {
            await database.close()
            throw error
        }
    }
}
