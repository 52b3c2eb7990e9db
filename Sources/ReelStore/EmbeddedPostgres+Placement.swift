import FoundationEssentials
import Logging
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension EmbeddedPostgres {
    /// Where the cluster of state directory `state` lives: `STATE/postgres`, unless the server (run as the
    /// `postgres` user when we are root) cannot reach it — a clone in root's 0700 home, a `mktemp -d` — in which
    /// case it is kept under `fallbackRoot`, in a directory named after the state directory, and that place is
    /// recorded in `STATE/postgres.location` (and said once in the log) so every later command finds it. The
    /// permissions of the user's directories are never changed.
    public static func clusterDirectory(
        forState state: String, fallbackRoot: String = "/var/lib/reel/clusters", logger: Logger
    ) async throws -> URL {
        let stateURL = URL(fileURLWithPath: state).standardizedFileURL
        let inside = stateURL.appendingPathComponent("postgres")
        let record = stateURL.appendingPathComponent("postgres.location")
        if let recorded = try? String(contentsOf: record, encoding: .utf8).trimmingWhitespace,
            recorded.hasPrefix("/")
        {
            return URL(fileURLWithPath: recorded)
        }
        let fm = FileManager.default
        guard getuid() == 0, !fm.fileExists(atPath: inside.appendingPathComponent("data/PG_VERSION").path) else {
            return inside
        }
        try fm.createDirectory(at: stateURL, withIntermediateDirectories: true)
        let reach = try await ProcessRunner.run(
            "/usr/sbin/runuser", ["-u", "postgres", "--", "/usr/bin/test", "-x", stateURL.path])
        guard reach.status != 0 else { return inside }
        let elsewhere = URL(fileURLWithPath: fallbackRoot)
            .appendingPathComponent(String(sha256Hex(stateURL.path).prefix(16)))
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        // The postgres user must be able to search every directory down to it (Reel's own, made here).
        for path in [URL(fileURLWithPath: fallbackRoot).deletingLastPathComponent().path, fallbackRoot, elsewhere.path]
        {
            chmod(path, 0o755)
        }
        try Data((elsewhere.path + "\n").utf8).write(to: record, options: .atomic)
        logger.notice(
            """
            the postgres user cannot reach \(stateURL.path) (a parent directory is not world-searchable); the embedded \
            PostgreSQL keeps its cluster in \(elsewhere.path) instead (recorded in \(record.path))
            """)
        return elsewhere
    }
}
