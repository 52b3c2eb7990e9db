import Foundation
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// PostgreSQL going away under `reel local` and its workers, and not being there yet when it starts: the run
/// waits, `/readyz` says it is not ready while the server is gone, and every job still finishes with each
/// chunk analyzed once.
@Suite(.serialized) struct DatabaseOutageTests {
    typealias Setup = LocalModeTests.Setup

    static func readyz(_ port: Int) async -> (status: Int, body: String)? {
        await OperatorTests.httpGet(port, "/readyz")
    }

    /// The phase the status mirror shows for VideoJob `name`.
    static func mirroredPhase(_ state: String, _ name: String) -> String? {
        let text = try? String(contentsOfFile: "\(state)/status/default/VideoJob/\(name).yaml", encoding: .utf8)
        return text?.split(separator: "\n").first { $0.hasPrefix("  phase: ") }.map {
            String($0.dropFirst("  phase: ".count))
        }
    }

    @Test func postgresStoppedMidRunAndStartedAgainEndsInFinishedJobs() async throws {
        let setup = try await Setup("e2e-pg-restart")
        try setup.job("a")
        let state = setup.directory.path("own-state")
        let cluster = URL(fileURLWithPath: state + "/postgres")
        defer { EmbeddedPostgres.stopImmediately(directory: cluster) }
        let local = try setup.start(
            ["--until-done", "--timeout", "300", "--api-addr", "127.0.0.1:0"],
            environment: ["REEL_FAULT_DELAY": "analyze=1"], state: state)
        let port = try await local.apiPort()
        let embedded = try EmbeddedPostgres(.init(directory: cluster), logger: TestPostgres.logger)
        let pool = PostgresPool(url: embedded.url(database: "reel"), maxConnections: 2)
        let analyzed = try await BackgroundProcess.eventually(timeout: .seconds(120)) {
            let rows = try? await pool.query("SELECT count(*)::bigint FROM video_chunks WHERE analyzed_at IS NOT NULL")
            return (try? rows?.first?.decode(Int.self, at: 0)) ?? 0 >= 1
        }
        try #require(analyzed, "no chunk was analyzed within the time limit: \(local.output)")
        #expect(await Self.readyz(port)?.status == 200)

        EmbeddedPostgres.stopImmediately(directory: cluster)
        var seen = ""
        let unready = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            guard let answer = await Self.readyz(port) else { return false }
            seen = answer.body
            return answer.status == 503
        }
        #expect(unready, "readyz while PostgreSQL is down: \(seen)")
        #expect(seen.contains("PostgreSQL unreachable"), "\(seen)")
        try await embedded.start()
        let ready = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            await Self.readyz(port)?.status == 200
        }
        #expect(ready)

        #expect(await local.wait() == 0, "\(local.output)")
        #expect(Self.mirroredPhase(state, "a") == "Succeeded", "\(local.output)")
        #expect(local.output.contains("PostgreSQL does not answer"))
        try await embedded.start()  // the run stopped the server it owns
        let writes = try await pool.query("SELECT analysis_writes FROM video_chunks ORDER BY chunk_index").map {
            try $0.decode(Int.self, at: 0)
        }
        #expect(writes == [1, 1, 1], "each chunk's analysis written exactly once across the outage")
        let running = try await pool.query("SELECT count(*)::bigint FROM job_queue WHERE state = 'running'")
        #expect(try running.first?.decode(Int.self, at: 0) == 0)
        await pool.close()
    }

    @Test func postgresNotThereYetAtStartIsWaitedFor() async throws {
        let setup = try await Setup("e2e-pg-late", sampleSeconds: 4)
        try setup.job("a")
        let cluster = URL(fileURLWithPath: setup.directory.path("late-postgres"))
        let server = try EmbeddedPostgres(.init(directory: cluster), logger: TestPostgres.logger)
        try await server.start()
        try await server.stop()
        defer { EmbeddedPostgres.stopImmediately(directory: cluster) }
        let local = try BackgroundProcess(
            ReelPaths.reelBinary,
            [
                "local", "--resources", setup.resources, "--state", setup.directory.path("state"), "--database-url",
                server.url(), "--until-done", "--timeout", "240", "--lease-seconds", "2", "--poll-seconds", "0.2",
                "--resync-seconds", "2",
            ], outputPath: setup.directory.path("late.log"))
        let waiting = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            local.output.contains("PostgreSQL is not reachable; waiting for it")
        }
        #expect(waiting, "\(local.output)")
        try await server.start()
        #expect(await local.wait() == 0, "\(local.output)")
        #expect(Self.mirroredPhase(setup.directory.path("state"), "a") == "Succeeded", "\(local.output)")
        await setup.pool.close()
    }
}
