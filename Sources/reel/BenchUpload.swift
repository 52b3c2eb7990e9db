import ArgumentParser
import Foundation
import Logging
import ReelHTTP
import ReelOperator
import ReelServer
import ReelStorage
import ReelStore
import ReelSupport
import ReelWorkerCLI

/// `reel bench upload`: a large upload through the tus server, by `reel upload` and by `curl -T`, with the
/// server's memory while the bytes stream through.
struct UploadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a large video with reel upload and with curl -T to the same server: MB/s and server RSS.",
        discussion: """
            Starts a throwaway PostgreSQL and the API server in this process (file-system storage in a temporary \
            directory), makes a video of about --megabytes by stream-copying a short clip over and over, then \
            uploads it twice: `reel upload` (tus in --chunk-size MiB chunks, each with a SHA-256) and `curl -T` \
            (one tus PATCH of the whole file). The server's peak RSS is measured during each upload (the peak is \
            reset in between through /proc/self/clear_refs).
            """)

    @Option(help: "Size of the video uploaded.") var megabytes = 2048
    @Option(help: "reel upload's chunk size (MiB).") var chunkSize = 8
    @Option(help: "Directory for the video and the store (default: a temporary one).") var scratch: String?
    @Flag(help: "Print one JSON object.") var json = false

    struct Run: Encodable {
        var client: String
        var seconds: Double
        var megabytesPerSecond: Double
        var serverPeakRssMB: Int
    }

    struct Result: Encodable {
        var bytes: Int
        var serverIdleRssMB: Int
        var runs: [Run]
    }

    func run() async throws {
        let logger = CLILogging.logger("reel.bench", level: .warning)
        let result = try await BenchHarness.withDatabase("upload", in: scratch, logger: logger) { url, directory in
            let video = try await Self.makeVideo(megabytes: megabytes, directory: directory.path)
            return try await BenchHarness.API.with(
                url: url, directory: directory, logger: logger, configure: { $0.uploads.maxBytes = 1 << 40 }
            ) { api in
                try await measure(api, video: video, directory: directory.path)
            }
        }
        report(result)
    }

    private func measure(_ api: BenchHarness.API, video: String, directory: String) async throws -> Result {
        let (base, token) = (api.base, api.token)
        let bytes = (try FileManager.default.attributesOfItem(atPath: video)[.size] as? Int) ?? 0
        let idle = Self.rss().current
        var runs: [Run] = []
        let reel = try Self.executable()
        runs.append(
            try await timed("reel upload", bytes: bytes) {
                try await ProcessRunner.capture(
                    reel,
                    [
                        "upload", video, "--server", base, "--token", token, "--no-job", "--chunk-size",
                        "\(chunkSize)",
                    ], environment: ["REEL_CACHE_DIR": "\(directory)/cache"])
            })
        let created = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: base + "/api/uploads",
                headers: [
                    ("Authorization", "Bearer \(token)"), ("Tus-Resumable", "1.0.0"), ("Upload-Length", "\(bytes)"),
                    ("Upload-Metadata", "filename YmlnLm1wNA==,job ZmFsc2U="),
                ]))
        guard created.status == 201, let location = created.header("Location") else {
            throw CLIFailure("could not create an upload for curl: HTTP \(created.status)")
        }
        runs.append(
            try await timed("curl -T", bytes: bytes) {
                try await ProcessRunner.capture(
                    "/usr/bin/curl",
                    [
                        "-sS", "-f", "-X", "PATCH", "-T", video, "-H", "Authorization: Bearer \(token)", "-H",
                        "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0", "-H",
                        "Content-Type: application/offset+octet-stream", "-H", "Expect:", location,
                    ])
            })
        return Result(bytes: bytes, serverIdleRssMB: idle, runs: runs)
    }

    /// Runs one client; the server's peak RSS is reset before and read after.
    private func timed(_ name: String, bytes: Int, _ client: () async throws -> ProcessRunner.Captured)
        async throws -> Run
    {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let started = ContinuousClock.now
        let result = try await client()
        let seconds = (ContinuousClock.now - started).seconds
        guard result.status == 0 else { throw CLIFailure("\(name) failed: \(result.stderr)\(result.stdout)") }
        return Run(
            client: name, seconds: seconds, megabytesPerSecond: Double(bytes) / 1_000_000 / seconds,
            serverPeakRssMB: Self.rss().peak)
    }

    /// This process's resident set and its peak (MB), from /proc/self/status.
    static func rss() -> (current: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// The running `reel` binary.
    static func executable() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return path
    }

    /// A real video of about `megabytes`: a 10 s clip at 16 Mb/s, stream-copied end to end as often as needed.
    static func makeVideo(megabytes: Int, directory: String) async throws -> String {
        let clip = "\(directory)/clip.mp4"
        let video = "\(directory)/big.mp4"
        let make = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10", "-c:v",
                "libx264", "-preset", "ultrafast", "-b:v", "16M", "-g", "60", "-pix_fmt", "yuv420p", clip,
            ])
        guard make.status == 0 else { throw CLIFailure("ffmpeg: \(make.stderr)") }
        let clipBytes = (try FileManager.default.attributesOfItem(atPath: clip)[.size] as? Int) ?? 1
        let loops = max(0, megabytes * 1_000_000 / max(clipBytes, 1) - 1)
        let copy = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg",
            ["-v", "error", "-y", "-stream_loop", "\(loops)", "-i", clip, "-c", "copy", video])
        guard copy.status == 0 else { throw CLIFailure("ffmpeg: \(copy.stderr)") }
        return video
    }

    private func report(_ result: Result) {
        if json {
            print((try? BenchHarness.json(result)) ?? "")
            return
        }
        print("upload of \(result.bytes / 1_000_000) MB; server idle RSS \(result.serverIdleRssMB) MB")
        for run in result.runs {
            print(
                "\(run.client.padding(toLength: 12, withPad: " ", startingAt: 0))"
                    + String(format: "%7.1f s  %7.1f MB/s", run.seconds, run.megabytesPerSecond)
                    + "  server peak RSS \(run.serverPeakRssMB) MB")
        }
        if result.runs.count == 2 {
            let ratio = result.runs[0].seconds / result.runs[1].seconds
            print(String(format: "reel upload / curl -T: %.2f× the time", ratio))
        }
    }
}
