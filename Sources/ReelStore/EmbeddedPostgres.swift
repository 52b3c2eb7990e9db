import FoundationEssentials
import Logging
import ReelPostgres
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A PostgreSQL server of the system's own binaries, kept in a directory: `initdb` once, then started on a Unix
/// socket inside that directory with no TCP listener. As root it runs the server as the `postgres` user
/// (PostgreSQL refuses root). A server already running on the directory is reused (and left running).
public final class EmbeddedPostgres: Sendable {
    /// Where and how the server runs.
    public struct Configuration: Sendable {
        /// The state directory: `data/` holds the cluster, the socket and `postgres.log` sit beside it.
        public var directory: URL
        /// Trade durability for speed (fsync and synchronous commit off): for tests and throwaway benches only.
        public var unsafeFast: Bool
        /// Extra `-c name=value` server settings.
        public var settings: [String: String]

        /// A durable server in `directory`.
        public init(directory: URL, unsafeFast: Bool = false, settings: [String: String] = [:]) {
            self.directory = directory.standardizedFileURL
            self.unsafeFast = unsafeFast
            self.settings = settings
        }
    }

    /// Why the embedded server could not run.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public let configuration: Configuration
    private let binaries: URL
    private let logger: Logger
    private let startedHere = Mutex(false)

    /// Finds the server binaries (`/usr/lib/postgresql/<newest>/bin`, `pg_config --bindir`, or `PATH`).
    public init(_ configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        guard let binaries = Self.serverBinaries() else {
            throw Failure(
                description: """
                    PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin \
                    or PATH. Install them: apt-get install postgresql (Debian/Ubuntu), or pass --database-url to use \
                    a server you run.
                    """)
        }
        self.binaries = binaries
    }

    /// The directory holding the newest server binaries found (`/usr/lib/postgresql/<newest>/bin`, then `PATH`).
    public static func serverBinaries() -> URL? {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = root.appendingPathComponent("\(version)/bin")
            if fm.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let bin = URL(fileURLWithPath: String(dir))
            if fm.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path),
                fm.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path)
            {
                return bin
            }
        }
        return nil
    }

    private var dataDirectory: URL { configuration.directory.appendingPathComponent("data") }
    private var socketDirectory: URL { configuration.directory }
    private static let isRoot = getuid() == 0

    /// A libpq connection string for `database` on this server (superuser `postgres`, over the socket).
    public func url(database: String = "postgres") -> String {
        "host=\(Self.quote(socketDirectory.path)) user=postgres dbname=\(Self.quote(database))"
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'"
    }

    /// Runs a server binary, as the `postgres` user when we are root.
    private func run(_ tool: String, _ arguments: [String]) async throws -> ProcessRunner.Output {
        let path = binaries.appendingPathComponent(tool).path
        if Self.isRoot {
            return try await ProcessRunner.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        }
        return try await ProcessRunner.run(path, arguments)
    }

    /// Creates the cluster if needed and starts the server unless one already runs on the directory.
    public func start() async throws {
        let fm = FileManager.default
        try fm.createDirectory(at: configuration.directory, withIntermediateDirectories: true)
        if Self.isRoot {
            let chown = try await ProcessRunner.run(
                "/bin/chown", ["-R", "postgres:postgres", configuration.directory.path])
            guard chown.status == 0 else {
                throw Failure(description: "chown of \(configuration.directory.path) failed: \(chown.output)")
            }
            // The server runs as `postgres`, which must be able to reach the directory through its parents.
            let reach = try await ProcessRunner.run(
                "/usr/sbin/runuser", ["-u", "postgres", "--", "/usr/bin/test", "-w", configuration.directory.path])
            guard reach.status == 0 else {
                throw Failure(
                    description: """
                        the postgres user cannot reach \(configuration.directory.path): a parent directory is not \
                        world-searchable (chmod o+x it), or choose another --state, or give --database-url
                        """)
            }
        }
        if !fm.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            logger.info("initializing a PostgreSQL cluster", metadata: ["reel.postgres.data": "\(dataDirectory.path)"])
            let initdb = try await run(
                "initdb",
                [
                    "-D", dataDirectory.path, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C",
                    "--no-instructions",
                ])
            guard initdb.status == 0 else { throw Failure(description: "initdb failed: \(initdb.output)") }
        }
        if try await isRunning() {
            logger.info(
                "reusing the PostgreSQL server already running",
                metadata: ["reel.postgres.data": "\(dataDirectory.path)"])
            try await waitUntilAccepting()
            return
        }
        var options = ["-k", socketDirectory.path, "-c", "listen_addresses=", "-c", "max_connections=200"]
        if configuration.unsafeFast {
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        }
        for (name, value) in configuration.settings.sorted(by: { $0.key < $1.key }) {
            options += ["-c", "\(name)=\(value)"]
        }
        // pg_ctl hands -o to a shell: quote every word.
        let optionText = options.map { "'" + $0.replacing("'", with: "'\\''") + "'" }.joined(
            separator: " ")
        let log = configuration.directory.appendingPathComponent("postgres.log").path
        let start = try await run(
            "pg_ctl", ["start", "-D", dataDirectory.path, "-w", "-t", "60", "-l", log, "-o", optionText])
        guard start.status == 0 else {
            let tail =
                (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(10).joined(
                    separator: "\n") ?? ""
            throw Failure(description: "pg_ctl start failed: \(start.output)\n\(tail)")
        }
        startedHere.withLock { $0 = true }
        logger.info("PostgreSQL started", metadata: ["reel.postgres.socket": "\(socketDirectory.path)"])
    }

    /// Waits until the server takes connections: one another process (`reel local`) is still starting has
    /// written its pid file but not yet opened its socket, and a command attaching to it then (`reel token create
    /// --state`) would fail to connect.
    func waitUntilAccepting(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let ready = try await run("pg_isready", ["-q", "-h", socketDirectory.path, "-U", "postgres"])
            if ready.status == 0 { return }
            guard ContinuousClock.now < deadline else {
                throw Failure(
                    description: "the PostgreSQL server on \(dataDirectory.path) runs but takes no connections")
            }
            try await Task.sleep(for: .milliseconds(100))  // pg_isready is the only signal a starting server gives
        }
    }

    /// Whether a server runs on the data directory.
    public func isRunning() async throws -> Bool {
        guard FileManager.default.fileExists(atPath: dataDirectory.path) else { return false }
        return try await run("pg_ctl", ["status", "-D", dataDirectory.path]).status == 0
    }

    /// Stops the server with a fast shutdown (sessions end, data is flushed) if this instance started it, or
    /// whenever `force` is set.
    public func stop(force: Bool = false) async throws {
        guard force || startedHere.withLock({ $0 }) else { return }
        let stop = try await run("pg_ctl", ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60"])
        guard stop.status == 0 else { throw Failure(description: "pg_ctl stop failed: \(stop.output)") }
        startedHere.withLock { $0 = false }
        logger.info("PostgreSQL stopped")
    }

    /// Stops the server in `directory` at once (`-m immediate`), blocking the calling thread: for exit handlers,
    /// where nothing asynchronous runs any more.
    public static func stopImmediately(directory: URL) {
        guard let pgCtl = serverBinaries()?.appendingPathComponent("pg_ctl").path else { return }
        let arguments = ["stop", "-D", directory.appendingPathComponent("data").path, "-m", "immediate", "-w"]
        if isRoot {
            _ = ProcessRunner.runBlocking("/usr/sbin/runuser", ["-u", "postgres", "--", pgCtl] + arguments)
        } else {
            _ = ProcessRunner.runBlocking(pgCtl, arguments)
        }
    }

    /// Creates `name` unless it exists.
    public func createDatabase(_ name: String) async throws {
        let connection = try await PostgresConnection.connect(url())
        do {
            let exists = try await connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
            if exists.isEmpty {
                // Identifiers cannot be bound parameters: quote it.
                try await connection.execute("CREATE DATABASE \"\(name.replacing("\"", with: "\"\""))\"")
            }
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }
}
