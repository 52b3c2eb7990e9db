import ArgumentParser
import Foundation
import ReelMedia
import ReelStore
import ReelSupport

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
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "reel-bench-split-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let ext = (file as NSString).pathExtension.isEmpty ? "mkv" : (file as NSString).pathExtension
        var chunkCount = 0
        var segmentCount = 0
        let (reel, peer) = try await PeerRuns.medians(runs: runs) { run in
            let directory = scratch.appendingPathComponent("reel-\(run)").path
            chunkCount = try await MediaEngine.split(file, targetSeconds: targetSeconds, outputDirectory: directory)
                .count
            try? FileManager.default.removeItem(atPath: directory)
        } peer: { run in
            let directory = scratch.appendingPathComponent("ffmpeg-\(run)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try await PeerRuns.run(
                ffmpeg,
                [
                    "-v", "error", "-y", "-i", file, "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "segment",
                    "-segment_time", String(targetSeconds), "-reset_timestamps", "1",
                    directory.appendingPathComponent("%05d.\(ext)").path,
                ])
            segmentCount = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).count) ?? 0
            try? FileManager.default.removeItem(at: directory)
        }
        // Peak memory is measured per process with /usr/bin/time (docs/benchmarks.md): a child's maxrss here would
        // start from this process's size at fork.
        print(String(format: "reel split     %.3f s  (%d chunks)", reel, chunkCount))
        print(String(format: "ffmpeg segment %.3f s  (%d segments)", peer, segmentCount))
        print(String(format: "ratio reel/ffmpeg %.2f (median of %d runs each)", reel / peer, max(1, runs)))
    }
}

/// `reel bench scenes FILE`: Reel's scene detection against `ffmpeg -vf scdet` on the same file, in the same run.
struct ScenesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenes",
        abstract: "Time Reel's scene detection against ffmpeg -vf scdet on the same file.",
        discussion: "Runs each side --runs times, alternating, and reports the medians and their ratio.")

    @Argument(help: "The media file.") var file: String
    @Option(help: "Cut threshold on scdet's 0-100 scale (both sides).") var threshold: Double = 10
    @Option(help: "Runs per side.") var runs = 3
    @Option(help: "The ffmpeg binary.") var ffmpeg = "/usr/bin/ffmpeg"

    func run() async throws {
        var cuts = 0
        let (reel, peer) = try await PeerRuns.medians(runs: runs) { _ in
            cuts = try await MediaEngine.detectScenes(file, threshold: threshold, minSceneSeconds: 0).cuts.count
        } peer: { _ in
            try await PeerRuns.run(
                ffmpeg, ["-v", "error", "-i", file, "-an", "-vf", "scdet=threshold=\(threshold)", "-f", "null", "-"])
        }
        print(String(format: "reel scenes    %.3f s  (%d cuts)", reel, cuts))
        print(String(format: "ffmpeg scdet   %.3f s", peer))
        print(String(format: "ratio reel/ffmpeg %.2f (median of %d runs each)", reel / peer, max(1, runs)))
    }
}

/// Times Reel and its peer in alternation, so both see the same machine.
enum PeerRuns {
    /// The median seconds of `reel` and of `peer` over `runs` alternating runs (each given its run number).
    static func medians(
        runs: Int, reel: (Int) async throws -> Void, peer: (Int) async throws -> Void
    ) async throws -> (reel: Double, peer: Double) {
        var reelTimes: [Double] = []
        var peerTimes: [Double] = []
        for run in 0..<max(1, runs) {
            var start = ContinuousClock.now
            try await reel(run)
            reelTimes.append((ContinuousClock.now - start).seconds)
            start = ContinuousClock.now
            try await peer(run)
            peerTimes.append((ContinuousClock.now - start).seconds)
        }
        return (median(reelTimes), median(peerTimes))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Runs a program (ReelStore's ProcessRunner: never blocks a cooperative thread); throws unless it exits 0.
    static func run(_ executable: String, _ arguments: [String]) async throws {
        let result = try await ProcessRunner.run(executable, arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(executable) exited with status \(result.status): \(result.output)")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}

/// `reel bench render FILE`: an `exact` and a `smart` render of a timeline of `--cuts` ranges spread over the file,
/// against ffmpeg making the same cuts (`-ss`/`-to` per input, the `concat` filter, libx264 at the same CRF and
/// preset, AAC), in the same run.
struct RenderBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Time Reel's exact and smart renders against ffmpeg's trim + concat on the same cuts.",
        discussion: "Runs each side --runs times, alternating, and reports the medians and their ratios.")

    @Argument(help: "The media file.") var file: String
    @Option(help: "How many cuts, spread evenly over the file.") var cuts = 10
    @Option(help: "Seconds per cut.") var cutSeconds = 3.0
    @Option(help: "Constant rate factor (both sides).") var crf = RenderOptions().crf
    @Option(help: "x264 preset (both sides).") var preset = RenderOptions().preset
    @Option(help: "Runs per side.") var runs = 1
    @Option(help: "The ffmpeg binary.") var ffmpeg = "/usr/bin/ffmpeg"

    func run() async throws {
        let info = try await MediaEngine.probe(file)
        let duration = info.duration ?? 0
        guard duration > Double(cuts) * cutSeconds else {
            throw CLIFailure("\(file) lasts \(duration) s: too short for \(cuts) cuts of \(cutSeconds) s")
        }
        // Starts between keyframes, as scene cuts fall.
        let ranges = (0..<cuts).map { i -> CutRange in
            let start = (Double(i) * duration / Double(cuts) + 1.37).rounded(.down) + 0.36
            return CutRange(source: file, start: start, end: start + cutSeconds)
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "reel-bench-render-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var frames: [RenderMode: Int] = [:]
        var times: [RenderMode: Double] = [:]
        var peer = 0.0
        for mode in [RenderMode.exact, .smart] {
            let output = scratch.appendingPathComponent("\(mode).mp4").path
            let (reel, ffmpegTime) = try await PeerRuns.medians(runs: runs) { _ in
                let result = try await MediaEngine.render(
                    ranges, output: output, options: RenderOptions(mode: mode, crf: crf, preset: preset))
                frames[mode] = result.frames
                if let reason = result.fallbackReason { print("note: \(reason)") }
            } peer: { _ in
                guard mode == .exact else { return }  // ffmpeg runs once per run, beside exact
                var arguments = ["-v", "error", "-y"]
                for range in ranges { arguments += ["-ss", "\(range.start)", "-to", "\(range.end)", "-i", file] }
                let inputs = ranges.indices.map { "[\($0):v:0][\($0):a:0]" }.joined()
                arguments += [
                    "-filter_complex", "\(inputs)concat=n=\(ranges.count):v=1:a=1[v][a]", "-map", "[v]", "-map", "[a]",
                    "-c:v", "libx264", "-crf", "\(crf)", "-preset", preset, "-c:a", "aac", "-movflags", "+faststart",
                    scratch.appendingPathComponent("ffmpeg.mp4").path,
                ]
                try await PeerRuns.run(ffmpeg, arguments)
            }
            times[mode] = reel
            if mode == .exact { peer = ffmpegTime }
        }
        print(String(format: "reel exact     %.3f s  (%d frames)", times[.exact]!, frames[.exact] ?? 0))
        print(String(format: "reel smart     %.3f s  (%d frames)", times[.smart]!, frames[.smart] ?? 0))
        print(String(format: "ffmpeg concat  %.3f s", peer))
        print(
            String(
                format: "ratio exact/ffmpeg %.2f, smart/ffmpeg %.2f (median of %d runs each)", times[.exact]! / peer,
                times[.smart]! / peer, max(1, runs)))
    }
}
