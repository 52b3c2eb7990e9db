import Logging
import ReelPostgres
import ReelSupport

extension Database {
    /// Applies the migrations once PostgreSQL takes connections. A server that is down, starting or restarting
    /// (refused connections, a missing socket, "the database system is starting up") is waited for, up to
    /// `patience`, with a warning when the wait starts and every 30 s after; what waiting cannot fix (failed
    /// authentication, a database or role that does not exist, a malformed URL) fails at once.
    @discardableResult
    public static func migrate(url: String, logger: Logger, patience: Duration) async throws -> [Int] {
        let started = ContinuousClock.now
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        var failures = 0
        var lastWarning: ContinuousClock.Instant?
        while true {
            do {
                let applied = try await migrate(url: url, logger: logger)
                if failures > 0 { logger.info("PostgreSQL takes connections; going on") }
                return applied
            } catch let error as PostgresError where isTransient(error) {
                failures += 1
                let waited = ContinuousClock.now - started
                guard waited < patience else {
                    throw DatabaseUnreachable(waited: waited, reason: error.message)
                }
                if lastWarning.map({ ContinuousClock.now - $0 >= .seconds(30) }) ?? true {
                    lastWarning = .now
                    logger.warning(
                        "PostgreSQL is not reachable; waiting for it",
                        metadata: ["reel.error": "\(error.message)", "reel.waited": "\(Int(waited.seconds)) s"])
                }
                try await Task.sleep(for: backoff.delay(after: failures))
            }
        }
    }

    /// Whether a connection failure may pass by itself: the server down, starting, restarting or out of reach,
    /// rather than refusing these credentials or this database.
    public static func isTransient(_ error: PostgresError) -> Bool {
        guard error.code == .connectionFailed || error.code == .connectionLost else {
            // 57P03: the database system is starting up (or shutting down).
            return error.sqlState == "57P03"
        }
        let permanent = [
            "authentication failed", "does not exist", "no pg_hba.conf entry", "invalid", "missing \"=\"",
            "unrecognized", "permission denied for database",
        ]
        let message = error.message.lowercased()
        return !permanent.contains { message.contains($0) }
    }

    /// Runs `SELECT 1`: whether the server answers now.
    public func ping() async throws {
        _ = try await pool.query("SELECT 1")
    }
}

/// PostgreSQL did not take connections within the time a process waits for it at start.
public struct DatabaseUnreachable: Error, CustomStringConvertible {
    public var waited: Duration
    public var reason: String

    public var description: String {
        "PostgreSQL was not reachable within \(Int(waited.seconds)) s (the last attempt: \(reason))"
    }
}
