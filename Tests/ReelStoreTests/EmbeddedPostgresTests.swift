import Foundation
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
