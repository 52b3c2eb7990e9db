import Foundation
import ReelAPI
import ReelCore
import ReelPostgres
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
    /// Declares VideoJob media/talk and returns it as stored.
    static func declareTalk(_ database: Database) async throws -> StoredResource {
        let key = ResourceKey(kind: "VideoJob", namespace: "media", name: "talk")
        try await database.resources.apply(
            key, labels: nil, annotations: nil,
            spec: try JSONDocument(encoding: VideoJobSpec(source: SourceSpec(uri: "https://x/a.mp4"))), sourceFile: nil)
        return try #require(try await database.resources.get(key))
    }

    @Test func watchAndFollowPrintChangesAsTheFeedAnnouncesThem() async throws {
        let url = try await TestPostgres.migratedDatabase("cli-feed")
        let database = Database(url: url, maxConnections: 2)
        let directory = try TemporaryDirectory(prefix: "cli-feed")
        let stored = try await Self.declareTalk(database)
        let watch = try BackgroundProcess(
            try ReelPaths.reelBinary, ["get", "vj", "-w", "-A", "--database-url", url],
            outputPath: directory.path("watch.log"))
        defer { watch.send(SIGKILL) }
        // The table is printed first; wait for it, so the change below comes after the watch began.
        // The first minute of the whole suite, every suite starting at once, can hold a command's start up for many
        // seconds: the waits return as soon as the output is there, and wait long otherwise.
        let listed = try await BackgroundProcess.eventually { watch.output.contains("NAMESPACE") }
        try #require(listed, "\(watch.output)")
        var status = VideoJobStatus()
        status.phase = .Analyzing
        status.progress = 40
        try await database.resources.updateStatus(uid: stored.uid, status: try JSONDocument(encoding: status))
        try await database.events.publish(
            namespace: "media", type: "job.changed", jobUID: stored.uid, data: .emptyObject)
        let seen = try await BackgroundProcess.eventually {
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
        let first = try await BackgroundProcess.eventually { follow.output.contains("first line") }
        try #require(first, "\(follow.output)")
        await database.logs.write(job: jobID, task: nil, level: "warning", "second line", fallback: TestPostgres.logger)
        let followed = try await BackgroundProcess.eventually {
            follow.output.contains("WARNING second line")
        }
        #expect(followed, "\(follow.output)")
        await database.close()
    }

    /// `reel get vj -w` that began on no jobs prints the header with the first row that comes.
    @Test func aWatchThatBeganEmptyPrintsTheHeaderWithItsFirstRow() async throws {
        let url = try await TestPostgres.migratedDatabase("cli-feed-empty")
        let database = Database(url: url, maxConnections: 2)
        let directory = try TemporaryDirectory(prefix: "cli-feed-empty")
        let watch = try BackgroundProcess(
            try ReelPaths.reelBinary, ["get", "vj", "-w", "-A", "--database-url", url],
            outputPath: directory.path("watch.log"))
        defer { watch.send(SIGKILL) }
        let empty = try await BackgroundProcess.eventually { watch.output.contains("No videojobs found.") }
        try #require(empty, "\(watch.output)")
        let stored = try await Self.declareTalk(database)
        try await database.events.publish(
            namespace: "media", type: "job.changed", jobUID: stored.uid, data: .emptyObject)
        let printed = try await BackgroundProcess.eventually { watch.output.contains("talk") }
        #expect(printed, "\(watch.output)")
        let lines = watch.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.dropFirst().first?.hasPrefix("NAMESPACE") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("media") == true && lines.last?.contains("talk") == true, "\(lines)")
        await database.close()
    }

    /// A line logged while `reel logs -f` starts (after its first read, before it notes where the feed stands) is
    /// printed too. The test holds `events` locked so that the command stops at the feed, then logs the line
    /// together with its event in the locking transaction, which is what a writer racing the start does.
    @Test func logsFollowPrintsALineLoggedWhileItStarts() async throws {
        let url = try await TestPostgres.migratedDatabase("cli-follow-start")
        let database = Database(url: url, maxConnections: 2)
        let stored = try await Self.declareTalk(database)
        let jobID = try await database.jobs.upsertJob(
            resourceUID: stored.uid, namespace: "media", name: "talk", generation: 1, spec: stored.spec)
        await database.logs.write(job: jobID, task: nil, level: "info", "first line", fallback: TestPostgres.logger)

        let locker = try await PostgresConnection.connect(url)
        try await locker.execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        let directory = try TemporaryDirectory(prefix: "cli-follow-start")
        let follow = try BackgroundProcess(
            try ReelPaths.reelBinary, ["logs", "talk", "-f", "-n", "media", "--database-url", url],
            outputPath: directory.path("logs.log"))
        defer { follow.send(SIGKILL) }
        let observer = try await PostgresConnection.connect(url)
        let waiting = try await BackgroundProcess.eventually {
            let rows = try await observer.query(
                "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted")
            return try rows.first!.decode(Int64.self, at: 0) > 0
        }
        #expect(waiting, "reel logs -f never read the feed: \(follow.output)")
        try await locker.query(
            "INSERT INTO job_logs (job_id, level, message, fields) VALUES ($1, 'warning', 'second line', '{}')",
            [jobID])
        try await locker.execute("COMMIT")
        let printed = try await BackgroundProcess.eventually {
            follow.output.contains("INFO first line") && follow.output.contains("WARNING second line")
        }
        #expect(printed, "\(follow.output)")
        await locker.close()
        await observer.close()
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
