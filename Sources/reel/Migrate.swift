import ArgumentParser
import Foundation
import ReelCore
import Logging
import ReelStore
import ReelWorkerCLI

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
