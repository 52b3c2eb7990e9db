import ArgumentParser
import Foundation
import ReelMedia

/// `reel bench split FILE`: Reel's split against `ffmpeg -f segment -c copy` on the same file, in the same run.
struct SplitBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Time Reel's split against ffmpeg -f segment -c copy on the same file.",
        discussion: "Runs each side --runs times, alternating, and reports the medians and their ratio.")

    @Argument(help: "The media file.") var file: String
    @Option(help: "Chunk length to aim for.") var targetSeconds: Double = 60
    @Option(help: "Runs per side.") var runs = 3
    @Option(help: "The ffmpeg binary.") var ffmpeg = "/usr/bin/ffmpeg"

    func run() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("reel-bench-split-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let ext = (file as NSString).pathExtension.isEmpty ? "mkv" : (file as NSString).pathExtension
        var reelTimes: [Double] = []
        var ffmpegTimes: [Double] = []
        var chunkCount = 0
        var segmentCount = 0
        for run in 0..<max(1, runs) {
            let reelDir = scratch.appendingPathComponent("reel-\(run)").path
            let start = ContinuousClock.now
            chunkCount = try await MediaEngine.split(file, targetSeconds: targetSeconds, outputDirectory: reelDir).count
            reelTimes.append((ContinuousClock.now - start).seconds)
            try? FileManager.default.removeItem(atPath: reelDir)

            let segmentDir = scratch.appendingPathComponent("ffmpeg-\(run)")
            try FileManager.default.createDirectory(at: segmentDir, withIntermediateDirectories: true)
            let segmentStart = ContinuousClock.now
            let status = try await Self.run(
                ffmpeg,
                ["-v", "error", "-y", "-i", file, "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "segment",
                 "-segment_time", String(targetSeconds), "-reset_timestamps", "1",
                 segmentDir.appendingPathComponent("%05d.\(ext)").path])
            ffmpegTimes.append((ContinuousClock.now - segmentStart).seconds)
            guard status == 0 else { throw ValidationError("ffmpeg failed with status \(status)") }
            segmentCount = (try? FileManager.default.contentsOfDirectory(atPath: segmentDir.path).count) ?? 0
            try? FileManager.default.removeItem(at: segmentDir)
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        var childUsage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &childUsage)
        let reel = Self.median(reelTimes), peer = Self.median(ffmpegTimes)
        print(String(format: "reel split     %.3f s  (%d chunks, peak RSS %.1f MB for the whole reel process)", reel, chunkCount, Double(usage.ru_maxrss) / 1024))
        print(String(format: "ffmpeg segment %.3f s  (%d segments, peak RSS %.1f MB)", peer, segmentCount, Double(childUsage.ru_maxrss) / 1024))
        print(String(format: "ratio reel/ffmpeg %.2f (median of %d runs each)", reel / peer, reelTimes.count))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Runs a program and awaits its exit through the termination handler.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }
}

/// `reel bench scenes FILE`: Reel's scene detection against `ffmpeg -vf scdet` on the same file, in the same run.
struct ScenesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenes",
        abstract: "Time Reel's scene detection against ffmpeg -vf scdet on the same file.",
        discussion: "Runs each side --runs times, alternating, and reports the medians, their ratio and the cuts each found.")

    @Argument(help: "The media file.") var file: String
    @Option(help: "Cut threshold on scdet's 0-100 scale (both sides).") var threshold: Double = 10
    @Option(help: "Runs per side.") var runs = 3
    @Option(help: "The ffmpeg binary.") var ffmpeg = "/usr/bin/ffmpeg"

    func run() async throws {
        var reelTimes: [Double] = []
        var ffmpegTimes: [Double] = []
        var cuts: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = ContinuousClock.now
            cuts = try await MediaEngine.detectScenes(file, threshold: threshold, minSceneSeconds: 0).cuts.map(\.time)
            reelTimes.append((ContinuousClock.now - start).seconds)
            let peerStart = ContinuousClock.now
            let status = try await SplitBench.run(
                ffmpeg, ["-v", "error", "-i", file, "-an", "-vf", "scdet=threshold=\(threshold)", "-f", "null", "-"])
            ffmpegTimes.append((ContinuousClock.now - peerStart).seconds)
            guard status == 0 else { throw ValidationError("ffmpeg failed with status \(status)") }
        }
        let reel = SplitBench.median(reelTimes), peer = SplitBench.median(ffmpegTimes)
        print(String(format: "reel scenes    %.3f s  (%d cuts)", reel, cuts.count))
        print(String(format: "ffmpeg scdet   %.3f s", peer))
        print(String(format: "ratio reel/ffmpeg %.2f (median of %d runs each)", reel / peer, reelTimes.count))
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
