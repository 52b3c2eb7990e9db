import Foundation
import Logging
import ReelOperator
import ReelHealth
import ReelServer
import ReelStorage
import ReelStore
import ReelWorkerCLI

/// What the benches start for themselves: a throwaway PostgreSQL, and the API server in this process.
enum BenchHarness {
    /// A bench's result as the one JSON object `--json` prints (keys sorted; snake_case where asked).
    static func json(_ value: some Encodable, snakeCase: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Runs `body` with the URL of a fresh database on a PostgreSQL started in a new directory under `parent`
    /// (default: the temporary directory; durable settings), which is stopped and removed afterwards; `body` may
    /// keep its own files in that directory.
    static func withDatabase<T>(
        _ name: String, in parent: String? = nil, logger: Logger,
        _ body: (_ url: String, _ directory: URL) async throws -> T
    ) async throws -> T {
        let directory = URL(fileURLWithPath: parent ?? FileManager.default.temporaryDirectory.path)
            .appendingPathComponent("reel-bench-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o755)  // the embedded PostgreSQL runs as the postgres user
        let server = try EmbeddedPostgres(.init(directory: directory.appendingPathComponent("pg")), logger: logger)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await server.start()
        do {
            try await server.createDatabase("reel_bench")
            let result = try await body(server.url(database: "reel_bench"), directory)
            try await server.stop()
            return result
        } catch {
            try? await server.stop()
            throw error
        }
    }

    /// The API server on a free loopback port over the migrated database `url`, with a file-system store in
    /// `directory/store` and an editor token of namespace `bench`.
    struct API {
        let base: String
        let port: Int
        let token: String
        let service: Database
        let database: APIDatabase
        let running: Task<Void, any Error>

        static func start(
            url: String, directory: URL, logger: Logger, configure: (inout APISettings) -> Void = { _ in }
        ) async throws -> API {
            try await Database.migrate(url: url, logger: logger)
            try await APIDatabase.prepareRole(serviceURL: url)
            let service = Database(url: url, maxConnections: 4)
            let database = APIDatabase(url: url, maxConnections: 16)
            var settings = APISettings(host: "127.0.0.1", port: 0)  // the kernel picks; onRunning tells which
            configure(&settings)
            let (ports, announce) = AsyncStream<Int>.makeStream()
            let server = APIServer(
                settings: settings, database: database,
                store: try FileSystemStore(root: directory.appendingPathComponent("store").path),
                signingKey: Array(repeating: 1, count: 32), writer: { TenantResources(database.tenant($0)) },
                registry: OperatorMetrics.bootstrap(),
                logger: CLILogging.logger("reel.bench.server", level: .critical),  // not its cancellation at the end
                onRunning: { announce.yield($0) })
            let running = Task {
                defer { announce.finish() }
                try await server.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await running.value
                throw CLIFailure("the API server ended before it listened")
            }
            let token = try await service.tokens.create(
                name: "bench", namespace: "bench", role: .editor, expiresIn: nil
            ).secret
            return API(
                base: "http://127.0.0.1:\(port)", port: port, token: token, service: service,
                database: database, running: running)
        }

        /// Runs `body` against a started server, which is stopped afterwards, whatever happens.
        static func with<T>(
            url: String, directory: URL, logger: Logger, configure: (inout APISettings) -> Void = { _ in },
            _ body: (API) async throws -> T
        ) async throws -> T {
            let api = try await start(url: url, directory: directory, logger: logger, configure: configure)
            do {
                let result = try await body(api)
                await api.stop()
                return result
            } catch {
                await api.stop()
                throw error
            }
        }

        func stop() async {
            await service.close()
            running.cancel()
            _ = try? await running.value
            await database.close()
        }
    }
}
