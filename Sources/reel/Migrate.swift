import ArgumentParser
import Foundation
import ReelCore
import Logging
import ReelStore

/// `reel migrate`: applies Reel's schema to a database.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply Reel's database migrations.",
        discussion: "Idempotent, and safe to run from several processes at once (an advisory lock orders them).")

    @Option(help: "postgres:// URL or key=value connection string (default: $REEL_DATABASE_URL).")
    var databaseURL: String?

    func run() async throws {
        let url = try ReelConfiguration().require(databaseURL, .databaseURL, flagName: "--database-url")
        let applied = try await Database.migrate(url: url, logger: CLILogging.logger("reel.migrate"))
        print(
            applied.isEmpty
                ? "schema is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}

/// How the CLI logs: to standard error, info and worse unless `REEL_LOG_LEVEL` says otherwise.
enum CLILogging {
    static func logger(_ label: String, level: Logger.Level? = nil) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        let fromEnvironment = ReelConfiguration().value(nil, .logLevel).flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = fromEnvironment ?? level ?? .info
        return logger
    }
}
