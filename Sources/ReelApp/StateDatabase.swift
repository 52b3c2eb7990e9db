import Foundation
import ReelCore
import Logging
import ReelOperator
import ReelStore
import ReelProcess
import ReelSupport

/// Where `reel local` and the inspection commands find their database: `--database-url`, then
/// `$REEL_DATABASE_URL`, then the embedded PostgreSQL in the state directory.
public struct StateDatabase: Sendable {
    public var url: String
    /// The embedded server, when that is what is used.
    public var embedded: EmbeddedPostgres?

    public static let databaseName = "reel"

    /// The state directory: the flag, then `$REEL_STATE_DIR`, then `./.reel`, made absolute.
    public static func stateDirectory(_ flag: String?) -> String {
        Paths.absolute(ReelConfiguration().value(flag, .stateDirectory, default: ".reel"))
    }

    /// For commands that only read: why there is nothing to read — no database named and no embedded cluster in
    /// `state` (in it, or where `postgres.location` says) — or `nil`. Reading must not make a 47 MB cluster to say
    /// that nothing is there.
    public static func missingState(_ state: String, databaseURL: String?) -> String? {
        let fm = FileManager.default
        guard ReelConfiguration().value(databaseURL, .databaseURL) == nil,
            !fm.fileExists(atPath: "\(state)/postgres/data/PG_VERSION"),
            !fm.fileExists(atPath: "\(state)/postgres.location")
        else { return nil }
        return "there is no Reel state in \(state): run `reel local` there first, or name the state with --state "
            + "or a server with --database-url"
    }

    /// Opens (starting the embedded server when needed) and migrates.
    public static func open(state: String, databaseURL: String?, logger: Logger) async throws -> StateDatabase {
        let url =
            ReelConfiguration().value(databaseURL, .databaseURL)
        var database: StateDatabase
        if let url {
            database = StateDatabase(url: url, embedded: nil)
        } else {
            let cluster = try await EmbeddedPostgres.clusterDirectory(forState: state, logger: logger)
            let embedded = try EmbeddedPostgres(.init(directory: cluster), logger: logger)
            try await embedded.start()
            try await embedded.createDatabase(databaseName)
            database = StateDatabase(url: embedded.url(database: databaseName), embedded: embedded)
        }
        try await Database.migrate(url: database.url, logger: logger, patience: ReelApplication.databasePatience)
        return database
    }

    /// Stops the embedded server if this process started it, or always with `force` (`reel local` owns the
    /// state directory's server, even one a killed predecessor left running).
    public func close(force: Bool = false) async {
        try? await embedded?.stop(force: force)
    }

    /// Claims the state directory for one `reel local` (`STATE/reel-local.pid`); fails while another lives.
    public static func lock(_ state: String) throws -> String {
        let path = "\(state)/reel-local.pid"
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
            let other = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), other != getpid(),
            kill(other, 0) == 0
        {
            throw StateDirectoryInUse(pid: other, directory: state)
        }
        try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Another `reel local` holds the state directory.
public struct StateDirectoryInUse: Error, CustomStringConvertible {
    public var pid: Int32
    public var directory: String
    public var description: String { "another reel local (pid \(pid)) is using \(directory)" }
}
