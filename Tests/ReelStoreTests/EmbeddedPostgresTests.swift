import Foundation
import ReelPostgres
import ReelStore
import ReelTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct EmbeddedPostgresTests {
    /// As root the server runs as `postgres`; a state directory under a private parent used to fail deep inside
    /// initdb ("could not access directory … Permission denied"). Now the cause is named up front.
    @Test(.enabled(if: getuid() == 0, "only root hands the server to the postgres user"))
    func aStateDirectoryThePostgresUserCannotReachIsExplained() async throws {
        let parent = try TemporaryDirectory(prefix: "private")
        chmod(parent.url.path, 0o700)
        let server = try EmbeddedPostgres(
            .init(directory: parent.url.appendingPathComponent("state/postgres")), logger: TestPostgres.logger)
        await #expect {
            try await server.start()
        } throws: { error in
            "\(error)".contains("the postgres user cannot reach") && "\(error)".contains("chmod o+x")
        }
    }
}

@Suite struct AttachingTests {
    /// `reel token create --state` beside a `reel local` that is still starting its server found the pid file but
    /// no socket yet, and failed to connect (seen in CI). Attaching now waits until the server takes connections.
    @Test func attachingToAServerThatIsNotTakingConnectionsYetWaitsForIt() async throws {
        let directory = try TemporaryDirectory(prefix: "attach")
        chmod(directory.url.path, 0o755)
        let configuration = EmbeddedPostgres.Configuration(directory: directory.url, unsafeFast: true)
        let first = try EmbeddedPostgres(configuration, logger: TestPostgres.logger)
        try await first.start()
        defer { Task { try? await first.stop() } }
        // The socket's name gone for a moment: as for a server that has not opened it yet.
        let socket = directory.path(".s.PGSQL.5432")
        let hidden = directory.path("hidden-socket")
        #expect(rename(socket, hidden) == 0)
        let second = try EmbeddedPostgres(configuration, logger: TestPostgres.logger)
        let attached = Mutex(false)
        let attaching = Task {
            try await second.start()
            attached.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(1500))  // pg_ctl status, then a few pg_isready rounds see no server
        #expect(!attached.withLock { $0 }, "it attached to a server that took no connections")
        #expect(rename(hidden, socket) == 0)
        try await attaching.value
        let connection = try await PostgresConnection.connect(second.url())
        #expect(try await connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
        await connection.close()
    }
}

@Suite struct ClusterPlacementTests {
    /// The README's first command failed for root in a home directory (0700): the cluster now goes where the
    /// postgres user can reach it, recorded in the state directory, and the user's directories keep their modes.
    @Test(.enabled(if: getuid() == 0, "only root hands the server to the postgres user"))
    func aStateDirectoryUnderAPrivateParentKeepsItsClusterElsewhere() async throws {
        let home = try TemporaryDirectory(prefix: "home")
        chmod(home.url.path, 0o700)
        let shared = try TemporaryDirectory(prefix: "var-lib-reel")
        chmod(shared.url.path, 0o755)
        let state = home.path("clone/.reel")
        let fallback = shared.path("reel/clusters")
        let cluster = try await EmbeddedPostgres.clusterDirectory(
            forState: state, fallbackRoot: fallback, logger: TestPostgres.logger)
        #expect(cluster.path.hasPrefix(fallback + "/"))
        let recorded = try String(contentsOfFile: "\(state)/postgres.location", encoding: .utf8)
        #expect(recorded == cluster.path + "\n")
        let again = try await EmbeddedPostgres.clusterDirectory(
            forState: state, fallbackRoot: fallback, logger: TestPostgres.logger)
        #expect(again.path == cluster.path)
        let server = try EmbeddedPostgres(.init(directory: cluster, unsafeFast: true), logger: TestPostgres.logger)
        try await server.start()
        try await server.createDatabase("placed")
        let connection = try await PostgresConnection.connect(server.url(database: "placed"))
        #expect(try await connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
        await connection.close()
        try await server.stop()
        var info = stat()
        stat(home.url.path, &info)
        #expect(info.st_mode & 0o777 == 0o700)  // never loosened

        // A state directory the postgres user can reach keeps its cluster inside.
        let open = try TemporaryDirectory(prefix: "open")
        chmod(open.url.path, 0o755)
        let inside = try await EmbeddedPostgres.clusterDirectory(
            forState: open.path("state"), fallbackRoot: fallback, logger: TestPostgres.logger)
        #expect(inside.path == open.path("state/postgres"))
    }
}
