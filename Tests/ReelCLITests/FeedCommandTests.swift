import Foundation
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reel get vj -w`, `reel logs -f` and `reel token` on the database: the first two follow the event feed the
/// API streams (no polling), the last keeps only hashes and audits every change.
@Suite("Feed-following commands and tokens")
struct FeedCommandTests {
    @Test func watchAndFollowPrintChangesAsTheFeedAnnouncesThem() async throws {
        let url = try await TestPostgres.migratedDatabase("cli-feed")
        let database = Database(url: url, maxConnections: 2)
        let directory = try TemporaryDirectory(prefix: "cli-feed")
        let watch = try BackgroundProcess(
            try ReelPaths.reelBinary, ["get", "vj", "-w", "-A", "--database-url", url],
            outputPath: directory.path("watch.log"))
        defer { watch.send(SIGKILL) }
        let key = ResourceKey(kind: "VideoJob", namespace: "media", name: "talk")
        try await database.resources.apply(
            key, labels: nil, annotations: nil,
            spec: try JSONDocument(encoding: VideoJobSpec(source: SourceSpec(uri: "https://x/a.mp4"))), sourceFile: nil)
        let stored = try #require(try await database.resources.get(key))
        // The table is printed first; wait for it, so the change below comes after the watch began.
        #expect(try await BackgroundProcess.eventually(timeout: .seconds(30)) { watch.output.contains("NAMESPACE") })
        var status = VideoJobStatus()
        status.phase = .Analyzing
        status.progress = 40
        try await database.resources.updateStatus(uid: stored.uid, status: try JSONDocument(encoding: status))
        try await database.events.publish(
            namespace: "media", type: "job.changed", jobUID: stored.uid, data: .emptyObject)
        let seen = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            watch.output.split(separator: "\n").contains { $0.contains("talk") && $0.contains("Analyzing") }
        }
        #expect(seen, "\(watch.output)")

        let jobID = try await database.jobs.upsertJob(
            resourceUID: stored.uid, namespace: "media", name: "talk", generation: 1, spec: stored.spec)
        let follow = try BackgroundProcess(
            try ReelPaths.reelBinary, ["logs", "talk", "-f", "-n", "media", "--database-url", url],
            outputPath: directory.path("logs.log"))
        defer { follow.send(SIGKILL) }
        await database.logs.write(job: jobID, task: nil, level: "info", "first line", fallback: TestPostgres.logger)
        #expect(try await BackgroundProcess.eventually(timeout: .seconds(30)) { follow.output.contains("first line") })
        await database.logs.write(job: jobID, task: nil, level: "warning", "second line", fallback: TestPostgres.logger)
        let followed = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            follow.output.contains("WARNING second line")
        }
        #expect(followed, "\(follow.output)")
        await database.close()
    }

    @Test func tokensArePrintedOnceStoredHashedListedRevokedAndAudited() async throws {
        let url = try await TestPostgres.migratedDatabase("cli-token")
        let created = try await ReelPaths.reel(
            [
                "token", "create", "--database-url", url, "-n", "media", "--role", "editor", "--name", "ci",
                "--expires", "30d",
            ])
        #expect(created.status == 0, "\(created.stderr)")
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("reel_") && created.stderr.contains("editor of namespace media"))
        let duplicate = try await ReelPaths.reel([
            "token", "create", "--database-url", url, "-n", "media", "--name", "ci",
        ])
        #expect(duplicate.status != 0 && duplicate.stderr.contains("already exists"))
        let listed = try await ReelPaths.reel(["token", "list", "--database-url", url, "-A"])
        #expect(listed.stdout.contains("ci") && listed.stdout.contains("live") && !listed.stdout.contains(secret))
        #expect(try await ReelPaths.reel(["token", "revoke", "ci", "-n", "media", "--database-url", url]).status == 0)
        #expect(
            try await ReelPaths.reel(["token", "list", "--database-url", url, "-n", "media"]).stdout.contains("revoked")
        )
        let missing = try await ReelPaths.reel(["token", "revoke", "ci", "-n", "media", "--database-url", url])
        #expect(missing.status != 0 && missing.stderr.contains("no live token"))
        let bad = try await ReelPaths.reel(["token", "create", "--database-url", url, "--expires", "soon"])
        #expect(bad.status != 0)
        let api = APIDatabase(url: url, maxConnections: 1)
        #expect(try await api.tokens.authenticate(secret) == nil)
        let audit = try await api.tenant("media").audit(after: 0, limit: 10).map { "\($0.verb) \($0.resource)" }
        #expect(audit == ["create tokens/ci", "revoke tokens/ci"])
        await api.close()
    }
}
