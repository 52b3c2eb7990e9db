import Foundation
import ReelSupport

/// Real media files for tests, made with the `ffmpeg` CLI: the sample video of `hack/sample-video.sh` (hard cuts
/// every 2 s, H.264 with B-frames + AAC) and variants of it.
public enum SampleMedia {
    /// A fresh sample video of `seconds` (a multiple of 2) in `directory`.
    public static func sample(in directory: TemporaryDirectory, seconds: Int = 12, name: String = "sample.mp4")
        async throws -> String
    {
        let path = directory.path(name)
        let script = ReelPaths.packageRoot.appendingPathComponent("hack/sample-video.sh").path
        let result = try await ProcessRunner.capture("/bin/bash", [script, path, String(seconds)])
        guard result.status == 0 else { throw Failure(description: "sample-video.sh failed: \(result.stderr)") }
        return path
    }

    /// Runs `ffmpeg -v error -y ARGS` and fails on any error output.
    @discardableResult
    public static func ffmpeg(_ arguments: [String]) async throws -> ProcessRunner.Captured {
        let result = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg", ["-hide_banner", "-v", "error", "-y"] + arguments)
        guard result.status == 0 else {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return result
    }

    /// `ffprobe -v error` with `arguments`, standard output split into lines.
    public static func ffprobe(_ arguments: [String]) async throws -> [String] {
        let result = try await ProcessRunner.capture("/usr/bin/ffprobe", ["-v", "error"] + arguments)
        guard result.status == 0 else { throw Failure(description: "ffprobe: \(result.stderr)") }
        return result.lines
    }

    /// Decode errors FFmpeg reports for a whole file (empty when it decodes cleanly).
    public static func decodeErrors(_ path: String) async throws -> String {
        let result = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg",
            [
                "-hide_banner", "-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base", "-1", "-f",
                "null", "-",
            ])
        return result.stderr + (result.status == 0 ? "" : " (exit \(result.status))")
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }
}
