import Foundation
import Logging
import ReelPostgres
import ReelStore

/// Databases for tests: one embedded PostgreSQL server per test process (started on first use in a temporary
/// directory, stopped at exit), one fresh database per caller. `REEL_TEST_DATABASE_URL` names a server to use
/// instead (a `key=value` connection string or a `postgres://` URL).
public enum TestPostgres {
    /// A fresh, empty database; returns its connection string.
    public static func database(_ prefix: String = "test") async throws -> String {
        let name = "\(prefix.lowercased())_\(UUID().uuidString.prefix(8).lowercased())"
        if let external = ProcessInfo.processInfo.environment["REEL_TEST_DATABASE_URL"], !external.isEmpty {
            let admin = try await PostgresConnection.connect(external)
            try await admin.execute("CREATE DATABASE \"\(name)\"")
            await admin.close()
            return withDatabase(external, name)
        }
        let server = try await SharedServer.shared.server()
        try await server.createDatabase(name)
        return server.url(database: name)
    }

    /// A fresh database with Reel's schema applied.
    public static func migratedDatabase(_ prefix: String = "test") async throws -> String {
        let url = try await database(prefix)
        try await Database.migrate(url: url, logger: logger)
        return url
    }

    /// A logger for tests: warnings and worse.
    public static var logger: Logger {
        var logger = Logger(label: "reel.test")
        logger.logLevel = .warning
        return logger
    }

    static func withDatabase(_ url: String, _ name: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + name
            return components.string ?? url
        }
        return url + " dbname=\(name)"
    }
}

/// The process-wide embedded server, started once however many suites ask at the same time.
actor SharedServer {
    static let shared = SharedServer()
    private var running: EmbeddedPostgres?
    private var starting = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func server() async throws -> EmbeddedPostgres {
        Watchdog.start()
        while starting { await withCheckedContinuation { waiters.append($0) } }
        if let running { return running }
        starting = true
        defer {
            starting = false
            waiters.forEach { $0.resume() }
            waiters.removeAll()
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("reel-test-pg-\(ProcessInfo.processInfo.processIdentifier)")
        let server = try EmbeddedPostgres(
            EmbeddedPostgres.Configuration(directory: directory, unsafeFast: true), logger: TestPostgres.logger)
        try await server.start()
        running = server
        ExitCleanup.register(dataDirectory: directory)
        return server
    }
}

/// Stops the test server when the test process exits (Swift Testing has no global tear-down).
enum ExitCleanup {
    nonisolated(unsafe) static var directory: URL?

    static func register(dataDirectory: URL) {
        directory = dataDirectory
        atexit {
            guard let directory = ExitCleanup.directory else { return }
            EmbeddedPostgres.stopImmediately(directory: directory)
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
