import Foundation
import ReelHTTP
import ReelSupport
import ReelTestSupport
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
        let port = try FreePort.next()
        let server = "http://127.0.0.1:\(port)"
        let local = try BackgroundProcess(
            try ReelPaths.reelBinary,
            [
                "local", "--resources", directory.path("jobs"), "--state", directory.path("state"), "--api-addr",
                "127.0.0.1:\(port)",
            ], outputPath: directory.path("local.log"))
        defer { local.send(SIGTERM) }
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
        let progressed = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
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

    /// The upload URL `reel upload` remembered (one file in the cache).
    static func rememberedURL(_ directory: String) -> String? {
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: directory).first else { return nil }
        return (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
