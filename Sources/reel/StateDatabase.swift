import Foundation
import Logging
import ReelPostgres
import ReelStore

/// Where `reel local` and the inspection commands find their database: `--database-url`, then
/// `$REEL_DATABASE_URL`, then the embedded PostgreSQL in the state directory.
struct StateDatabase {
    var url: String
    /// The embedded server, when that is what is used.
    var embedded: EmbeddedPostgres?

    static let databaseName = "reel"

    /// The state directory: the flag, then `$REEL_STATE_DIR`, then `./.reel`, made absolute.
    static func stateDirectory(_ flag: String?) -> String {
        let path = flag ?? ProcessInfo.processInfo.environment["REEL_STATE_DIR"] ?? ".reel"
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (absolute as NSString).standardizingPath
    }

    /// Opens (starting the embedded server when needed) and migrates.
    static func open(state: String, databaseURL: String?, logger: Logger) async throws -> StateDatabase {
        let url = databaseURL ?? ProcessInfo.processInfo.environment["REEL_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var database: StateDatabase
        if let url {
            database = StateDatabase(url: url, embedded: nil)
        } else {
            let embedded = try EmbeddedPostgres(
                .init(directory: URL(fileURLWithPath: state).appendingPathComponent("postgres")), logger: logger)
            try await embedded.start()
            try await embedded.createDatabase(databaseName)
            database = StateDatabase(url: embedded.url(database: databaseName), embedded: embedded)
        }
        let connection = try await PostgresConnection.connect(database.url)
        defer { Task { await connection.close() } }
        try await Migrator.migrate(connection, logger: logger)
        return database
    }

    /// Stops the embedded server if this process started it.
    func close() async {
        try? await embedded?.stop()
    }
}
