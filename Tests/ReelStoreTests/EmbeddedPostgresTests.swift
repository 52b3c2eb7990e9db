import Foundation
import ReelPostgres
import ReelStore
import ReelTestSupport
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
