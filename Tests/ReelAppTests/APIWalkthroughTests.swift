import Foundation
import ReelAPI
import ReelApp
import ReelCore
import ReelHTTP
import ReelStore
import ReelTestSupport
import Testing
import ReelProcess

/// The README's walk-through as a test: `reel local --api-addr`, a token, a job posted over HTTP, followed live
/// through `/api/events`, its render fetched through a signed link, and its deletion.
@Suite(.serialized) struct APIWalkthroughTests {
    @Test func aJobPostedOverHTTPIsFollowedLiveAndItsRenderDownloaded() async throws {
        let directory = try TemporaryDirectory(prefix: "app-api")
        let resources = directory.path("resources")
        let videos = directory.path("videos")
        for path in [resources, videos] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let sample = try await SampleMedia.sample(in: directory, seconds: 6)
        try FileManager.default.moveItem(atPath: sample, toPath: "\(videos)/talk.mp4")
        let databaseURL = try await TestPostgres.database("app-api")
        var settings = LocalSettings(resources: resources, state: directory.path("state"))
        settings.databaseURL = databaseURL
        settings.lease = .seconds(2)
        settings.poll = .milliseconds(200)
        settings.resync = .seconds(2)
        settings.grace = .seconds(6)
        settings.workerExecutable = try ReelPaths.reelBinary
        var api = APIOptions(address: "127.0.0.1:0")
        api.fileRoots = [videos]
        settings.api = api
        let (ports, announce) = AsyncStream<Int>.makeStream()
        settings.onAPIRunning = { announce.yield($0) }
        let local = try await ReelApplication.local(settings, logger: TestPostgres.logger)
        let running = Task { try await local.run(signals: []) }
        var iterator = ports.makeAsyncIterator()
        let base = "http://127.0.0.1:\(try #require(await iterator.next()))"

        let database = Database(url: databaseURL, maxConnections: 2)
        let token = try await database.tokens.create(name: "me", namespace: "media", role: .editor, expiresIn: nil)
            .secret
        let auth = [(name: "Authorization", value: "Bearer \(token)")]
        let feed = EventStream(base + "/api/events?types=job", token: token)
        _ = await feed.wait { _ in feed.status != nil }
        let body =
            #"{"metadata":{"name":"talk"},"spec":{"source":{"uri":"file://\#(videos)/talk.mp4"},"#
            + #""split":{"targetSeconds":3}}}"#
        let created = try await HTTPClient.send(
            HTTPRequest(method: "POST", url: base + "/api/jobs", headers: auth, body: Data(body.utf8)))
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let job = try JSONDecoder().decode(VideoJob.self, from: created.body)
        let uid = try #require(job.metadata.uid)

        // Followed live: added, then changes up to success, all from the feed.
        let frames = await feed.wait(timeout: .seconds(180)) { frames in
            frames.contains { $0.data.contains(#""phase": "Succeeded""#) || $0.data.contains(#""phase": "Failed""#) }
        }
        let phases = frames.compactMap { frame -> String? in
            guard let range = frame.data.range(of: #""phase": ""#) else { return nil }
            return String(frame.data[range.upperBound...].prefix { $0 != "\"" })
        }
        // The first event (a heartbeat comment may come first when the job takes a while to be added).
        #expect(frames.first { $0.id != nil }?.event == "job.added")
        #expect(phases.last == "Succeeded", "\(phases)")
        #expect(phases.contains("Analyzing") && phases.contains("Rendering"))
        // A VideoJob like any other: the resources table has it, made over HTTP.
        #expect(try await database.resources.list(kind: "VideoJob").map(\.key.name) == ["talk"])

        let chunks = try await HTTPClient.send(HTTPRequest(url: base + "/api/jobs/\(uid)/chunks", headers: auth))
        struct Page: Decodable {
            struct Chunk: Decodable { var url: String }
            struct Output: Decodable { var url: String? }
            var items: [Chunk]
            var outputs: [String: Output]
        }
        let page = try JSONDecoder().decode(Page.self, from: chunks.body)
        #expect(page.items.count == 2)
        let renderURL = try #require(page.outputs["render"]?.url)
        let render = directory.path("render.mp4")
        let download = try await HTTPClient.send(HTTPRequest(url: renderURL), toFile: render)
        #expect(download.status == 200)
        let duration = try await SampleMedia.ffprobe(["-show_entries", "format=duration", "-of", "csv=p=0", render])
        #expect(abs((duration.first.flatMap(Double.init) ?? 0) - 6) < 0.2, "\(duration)")

        // An admin keeps a render worker up, sees it in /api/workers, and drains it: it finishes and exits.
        let admin = try await database.tokens.create(name: "ops", namespace: "default", role: .admin, expiresIn: nil)
        let adminAuth = [(name: "Authorization", value: "Bearer \(admin.secret)")]
        let scaled = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: base + "/api/workers", headers: adminAuth,
                body: Data(#"{"action":"scale","pool":"render","minReplicas":1,"maxReplicas":1}"#.utf8)))
        #expect(scaled.status == 200, "\(String(decoding: scaled.body, as: UTF8.self))")
        struct Workers: Decodable {
            struct Worker: Decodable {
                var id: String
                var pool: String?
                var state: String
            }
            var items: [Worker]
        }
        func workers() async throws -> [Workers.Worker] {
            let reply = try await HTTPClient.send(HTTPRequest(url: base + "/api/workers", headers: adminAuth))
            return try JSONDecoder().decode(Workers.self, from: reply.body).items
        }
        var renderWorker: String?
        let started = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            renderWorker = try await workers().first { $0.pool == "render" && $0.state == "running" }?.id
            return renderWorker != nil
        }
        #expect(started)
        let drained = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: base + "/api/workers", headers: adminAuth,
                body: Data(#"{"action":"drain","worker":"\#(renderWorker ?? "")"}"#.utf8)))
        #expect(drained.status == 202)
        let stopped = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            try await workers().first { $0.id == renderWorker }?.state == "stopped"
        }
        let seen = try await workers()
        #expect(stopped, "\(seen)")

        // Deleting cancels and cleans up: the feed says so, and the job's objects are gone.
        let deleted = try await HTTPClient.send(
            HTTPRequest(method: "DELETE", url: base + "/api/jobs/\(uid)", headers: auth))
        #expect(deleted.status == 202)
        let after = await feed.wait(timeout: .seconds(60)) { $0.contains { $0.event == "job.deleted" } }
        #expect(after.contains { $0.event == "job.deleted" })
        #expect(!FileManager.default.fileExists(atPath: directory.path("state/store/jobs/\(uid)")))
        feed.close()
        await database.close()
        running.cancel()
        _ = try? await running.value
    }
}
