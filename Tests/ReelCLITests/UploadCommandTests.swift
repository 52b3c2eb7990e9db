import Foundation
import ReelHTTP
import ReelSupport
import ReelTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reel upload` against a live `reel local --api-addr`: killed mid-way and run again, it resumes from the
/// server's offset (the server never receives more than one chunk twice), then follows its job to the end.
@Suite("reel upload", .serialized)
struct UploadCommandTests {
    @Test func aKilledUploadResumesAndItsJobIsFollowedToTheEnd() async throws {
        let directory = try TemporaryDirectory(prefix: "cli-upload")
        chmod(directory.url.path, 0o755)
        try FileManager.default.createDirectory(atPath: directory.path("jobs"), withIntermediateDirectories: true)
        let video = directory.path("talk.mp4")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "6", "-c:v", "libx264", "-b:v", "3M",
            "-g", "50", "-pix_fmt", "yuv420p", video,
        ])
        let size = try #require(try FileManager.default.attributesOfItem(atPath: video)[.size] as? Int)
        let local = try BackgroundProcess(
            try ReelPaths.reelBinary,
            [
                "local", "--resources", directory.path("jobs"), "--state", directory.path("state"), "--api-addr",
                "127.0.0.1:0",
            ], outputPath: directory.path("local.log"))
        defer { local.send(SIGTERM) }
        let server = "http://127.0.0.1:\(try await local.apiPort())"
        let up = try await BackgroundProcess.eventually(timeout: .seconds(120)) {
            (try? await HTTPClient.send(HTTPRequest(url: "\(server)/healthz")))?.status == 200
        }
        #expect(up, "\(local.output)")
        let created = try await ReelPaths.reel([
            "token", "create", "--state", directory.path("state"), "-n", "media", "--role", "editor",
        ])
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0, "\(created.stderr)")
        let environment = ["REEL_CACHE_DIR": directory.path("cache"), "REEL_TOKEN": token, "REEL_SERVER": server]
        let arguments = ["upload", video, "--chunk-size", "1", "--title", "Resumed"]

        // Slowly (12 s for the file): once the server holds a chunk, kill -9. Each look stops the client first, so
        // however long this test waits between its look and the kill (a loaded machine once let the client finish
        // in between), the client sends nothing more.
        let first = try BackgroundProcess(
            try ReelPaths.reelBinary, arguments + ["--limit-rate", "150000"], environment: environment,
            outputPath: directory.path("first.log"))
        var held = 0
        let progressed = await BackgroundProcess.eventually(timeout: .seconds(60)) {
            guard let url = Self.rememberedURL(directory.path("cache/uploads")) else { return false }
            first.send(SIGSTOP)
            let head = try? await HTTPClient.send(
                HTTPRequest(
                    method: "HEAD", url: url,
                    headers: [("Authorization", "Bearer \(token)"), ("Tus-Resumable", "1.0.0")]))
            held = Int(head?.header("Upload-Offset") ?? "") ?? 0
            guard held >= 1 << 20 else {
                first.send(SIGCONT)
                return false
            }
            return true
        }
        #expect(progressed, "\(first.output)")
        first.send(SIGKILL)
        _ = await first.wait()
        #expect(held < size)

        let second = try BackgroundProcess(
            try ReelPaths.reelBinary, arguments + ["--wait", "--timeout", "180"], environment: environment,
            outputPath: directory.path("second.log"))
        let status = await second.wait()
        #expect(status == 0, "\(second.output)\n\(local.output.suffix(3000))")
        #expect(second.output.contains("resumed at"), "\(second.output)")
        #expect(second.output.contains("Succeeded"), "\(second.output)")
        // Bytes the server read, kept or discarded: the file once, plus at most the chunk in flight at the kill.
        let metrics = try await HTTPClient.send(HTTPRequest(url: "\(server)/metrics"))
        let line = String(decoding: metrics.body, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("reel_upload_received_bytes_total ") }
        let received = Int(Double(line?.split(separator: " ").last ?? "") ?? 0)
        #expect(received >= size && received <= size + (1 << 20), "received \(received) for \(size)")
        #expect(Self.rememberedURL(directory.path("cache/uploads")) == nil)  // forgotten once complete
    }

    /// A `HEAD` that says nothing of the upload (503 from a proxy while the server restarts) is retried, both when
    /// a rerun looks for the upload it remembers and when a run resynchronises after a dropped `PATCH`. Taken for
    /// "gone", the first made the rerun start a new upload and the second ended the run in an error.
    @Test func anUnavailableServerDoesNotThrowTheUploadAway() async throws {
        let directory = try TemporaryDirectory(prefix: "cli-upload-503")
        let file = directory.path("clip.mp4")
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: file))
        // The first PATCH is held until the test releases it, then dropped; HEADs answer 503, 200, 503, 200; the
        // second PATCH is dropped and the third takes the file.
        let releasePatch = DispatchSemaphore(value: 0)
        let fake = try ScriptedTusServer { method, count in
            switch (method, count) {
            case ("POST", _): return ScriptedTusServer.created(count)
            case ("HEAD", _) where count % 2 == 1: return ScriptedTusServer.status(503)
            case ("HEAD", _): return ScriptedTusServer.status(200, [("Upload-Offset", "0")])
            case ("PATCH", 1):
                releasePatch.wait()
                return ("drop", .drop)
            case ("PATCH", 2): return ("drop", .drop)
            case ("PATCH", _): return ScriptedTusServer.took(300_000)
            default: return ScriptedTusServer.status(404)
            }
        }
        let environment = [
            "REEL_CACHE_DIR": directory.path("cache"), "REEL_TOKEN": "t", "REEL_SERVER": fake.server.baseURL,
        ]
        let first = try BackgroundProcess(
            try ReelPaths.reelBinary, ["upload", file], environment: environment,
            outputPath: directory.path("first.log"))
        let held = await BackgroundProcess.eventually { fake.patches > 0 }
        #expect(held, "\(first.output)")
        first.send(SIGKILL)
        _ = await first.wait()
        releasePatch.signal()

        let second = try BackgroundProcess(
            try ReelPaths.reelBinary, ["upload", file], environment: environment,
            outputPath: directory.path("second.log"))
        #expect(await second.wait() == 0, "\(second.output)")
        #expect(
            second.output.contains("uploaded as \(fake.server.baseURL)/api/uploads/u1, job job-1"), "\(second.output)")
        // Before any byte went, there is no rate to tell, and none is made up.
        #expect(second.output.contains("  0%  0.0/0.3 MB  -- MB/s  ETA --"), "\(second.output)")
        #expect(
            fake.log == [
                "POST 201", "PATCH drop",  // the first run, killed while its PATCH was held
                "HEAD 503", "HEAD 200", "PATCH drop", "HEAD 503", "HEAD 200", "PATCH 204",
            ])
    }

    /// A `PATCH` answered 429 (with `Retry-After`) is retried after the wait the server asked for, and one answered
    /// 401 ends the run but keeps the upload: a rerun with a good token resumes it. Both made the client forget the
    /// upload, so that the rerun started from byte 0.
    @Test func aRateLimitedOrUnauthorizedPatchKeepsTheUpload() async throws {
        let directory = try TemporaryDirectory(prefix: "cli-upload-429")
        let file = directory.path("clip.mp4")
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: URL(fileURLWithPath: file))
        let fake = try ScriptedTusServer { method, count in
            switch (method, count) {
            case ("POST", _): return ScriptedTusServer.created(count)
            case ("HEAD", _): return ScriptedTusServer.status(200, [("Upload-Offset", "0")])
            case ("PATCH", 1): return ScriptedTusServer.status(429, [("Retry-After", "1")])
            case ("PATCH", 2): return ScriptedTusServer.status(401)
            case ("PATCH", _): return ScriptedTusServer.took(200_000)
            default: return ScriptedTusServer.status(404)
            }
        }
        let environment = ProcessInfo.processInfo.environment.merging([
            "REEL_CACHE_DIR": directory.path("cache"), "REEL_TOKEN": "t", "REEL_SERVER": fake.server.baseURL,
        ]) { $1 }
        let first = try await ProcessRunner.capture(
            try ReelPaths.reelBinary, ["upload", file], environment: environment)
        #expect(first.status != 0 && first.stderr.contains("HTTP 401"), "\(first.stdout)\(first.stderr)")
        #expect(Self.rememberedURL(directory.path("cache/uploads")) == "\(fake.server.baseURL)/api/uploads/u1")
        let second = try await ProcessRunner.capture(
            try ReelPaths.reelBinary, ["upload", file], environment: environment)
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(fake.log == ["POST 201", "PATCH 429", "HEAD 200", "PATCH 401", "HEAD 200", "PATCH 204"])
    }

    /// A tus server whose answers are scripted by request: `answer` is given the method and how many requests of
    /// that method came before (1 for the first) and returns a label for the log and the reply.
    final class ScriptedTusServer: Sendable {
        final class Record: Sendable {
            let state = Mutex((log: [String](), counts: [String: Int]()))
        }
        let record = Record()
        let server: TestHTTPServer
        var log: [String] { record.state.withLock { $0.log } }
        var patches: Int { record.state.withLock { $0.counts["PATCH"] ?? 0 } }

        init(answer: @escaping @Sendable (_ method: String, _ count: Int) -> (String, TestHTTPReply)) throws {
            let record = self.record
            server = try TestHTTPServer { request in
                let count = record.state.withLock { state -> Int in
                    state.counts[request.method, default: 0] += 1
                    return state.counts[request.method]!
                }
                let (label, reply) = answer(request.method, count)
                record.state.withLock { $0.log.append("\(request.method) \(label)") }
                return reply
            }
        }

        static func created(_ count: Int) -> (String, TestHTTPReply) {
            ("201", .response(status: 201, headers: [("Location", "/api/uploads/u\(count)")], body: Data()))
        }

        static func took(_ size: Int) -> (String, TestHTTPReply) {
            let headers = [("Upload-Offset", "\(size)"), ("Reel-Job-Id", "job-1")]
            return ("204", .response(status: 204, headers: headers, body: Data()))
        }

        static func status(_ code: Int, _ headers: [(String, String)] = []) -> (String, TestHTTPReply) {
            ("\(code)", .response(status: code, headers: headers, body: Data("scripted \(code)".utf8)))
        }
    }

    /// The upload URL `reel upload` remembered (one file in the cache).
    static func rememberedURL(_ directory: String) -> String? {
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: directory).first else { return nil }
        return (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
