import ArgumentParser
import Foundation
import ReelMedia
import ReelSupport

/// `reel media …`: the media engine on one file.
struct Media: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe, split and analyze media files.",
        subcommands: [Probe.self, Split.self, Scenes.self, Render.self])

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// `reel media probe FILE`.
    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a file's container and streams.")

        @Argument(help: "The media file.") var file: String
        @Flag(help: "Also list the video keyframe times (reads every packet).") var keyframes = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let info = try await MediaEngine.probe(file, keyframes: keyframes)
            if json { return try Media.printJSON(info) }
            print(
                "\(file): \(info.container), "
                    + "\(info.duration.map { String(format: "%.3f s", $0) } ?? "unknown duration")"
                    + (info.bitRate.map { ", \($0 / 1000) kb/s" } ?? ""))
            for s in info.streams {
                var line = "  #\(s.index) \(s.kind.rawValue) \(s.codec)"
                if let profile = s.profile { line += " (\(profile))" }
                if let w = s.width, let h = s.height { line += " \(w)x\(h)" }
                if let rate = s.frameRate { line += String(format: " %.3f fps", rate.seconds) }
                if let rotation = s.rotation, rotation != 0 { line += " rotated \(Int(rotation))°" }
                if let rate = s.sampleRate { line += " \(rate) Hz" }
                if let layout = s.channelLayout { line += " \(layout)" }
                print(line)
            }
            if let keyframes = info.keyframes {
                print("  keyframes: " + keyframes.map { String(format: "%.3f", $0) }.joined(separator: " "))
            }
        }
    }

    /// `reel media split FILE --target-seconds S --out DIR`.
    struct Split: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Split a file into keyframe-aligned chunks by stream copy.")

        @Argument(help: "The media file.") var file: String
        @Option(help: "Chunk length to aim for.") var targetSeconds: Double
        @Option(help: "Largest chunk in bytes.") var maxBytes: Int?
        @Option(help: "Directory for the chunks.") var out: String
        @Flag(help: "Print JSON.") var json = false

        struct Output: Encodable {
            struct Item: Encodable {
                var index: Int
                var path: String
                var start: Double
                var duration: Double
                var bytes: Int
            }
            var chunks: [Item]
        }

        func run() async throws {
            let chunks = try await MediaEngine.split(
                file, targetSeconds: targetSeconds, maxBytes: maxBytes ?? .max, outputDirectory: out)
            if json {
                return try Media.printJSON(
                    Output(
                        chunks: chunks.map {
                            .init(
                                index: $0.index, path: $0.path, start: $0.start, duration: $0.duration, bytes: $0.bytes)
                        }))
            }
            for c in chunks {
                print(
                    String(format: "%@  start %.3f s  duration %.3f s  %d bytes", c.path, c.start, c.duration, c.bytes))
            }
        }
    }

    /// `reel media scenes FILE`.
    struct Scenes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find hard cuts (scored as FFmpeg's scdet) and summarize each scene.")

        @Argument(help: "The media file.") var file: String
        @Option(help: "Cut threshold on scdet's 0-100 scale.") var threshold: Double = 10
        @Option(help: "Cuts closer together than this are suppressed.") var minSceneSeconds: Double = 0.5
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let report = try await MediaEngine.detectScenes(
                file, threshold: threshold, minSceneSeconds: minSceneSeconds)
            if json { return try Media.printJSON(report) }
            for cut in report.cuts { print(String(format: "cut   %8.3f s  score %.1f", cut.time, cut.score)) }
            for scene in report.scenes {
                print(
                    String(
                        format: "scene %8.3f – %8.3f s  luma %.2f  motion %.3f", scene.start, scene.end,
                        scene.meanLuma, scene.motion))
            }
        }
    }

    /// `reel media render --cut FILE:START:END … --out FILE [--mode exact|smart|keyframe]`.
    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join ranges of sources into one MP4.",
            discussion: """
                exact (the default) re-encodes every frame: the output holds exactly the frames from START up to \
                END of each range. smart is as exact but re-encodes only from each START to the next keyframe and \
                from the last keyframe before END, copying the packets between. keyframe copies packets from the \
                keyframe at or before START: fast, approximate.
                """)

        @Option(
            name: .customLong("cut"),
            help: ArgumentHelp("A range, FILE:START:END in seconds (repeatable).", valueName: "file:start:end"))
        var cuts: [String]
        @Option(help: "The MP4 to write.") var out: String
        @Option(help: "exact, smart or keyframe.") var mode: String = RenderMode.exact.rawValue
        @Option(help: "Video codec of exact and smart renders: h264 or hevc.") var codec: String = RenderCodec.h264
            .rawValue
        @Option(help: "Constant rate factor, 0-51 (lower is better).") var crf: Int = RenderOptions().crf
        @Option(help: "Encoder preset (ultrafast … veryslow).") var preset: String = RenderOptions().preset
        @Flag(help: "Print JSON.") var json = false

        var options: RenderOptions {
            get throws {
                guard let mode = RenderMode(rawValue: mode) else {
                    throw ValidationError("--mode \(mode): expected exact, smart or keyframe")
                }
                guard let codec = RenderCodec(rawValue: codec) else {
                    throw ValidationError("--codec \(codec): expected h264 or hevc")
                }
                guard (0...51).contains(crf) else { throw ValidationError("--crf \(crf): expected 0 to 51") }
                guard RenderOptions.presets.contains(preset) else {
                    throw ValidationError(
                        "--preset \(preset): expected one of \(RenderOptions.presets.joined(separator: ", "))")
                }
                return RenderOptions(mode: mode, codec: codec, crf: crf, preset: preset)
            }
        }

        static func parse(_ text: String) throws -> CutRange {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3, let start = Double(parts[parts.count - 2]), let end = Double(parts[parts.count - 1])
            else {
                throw ValidationError("--cut \(text): expected FILE:START:END with START and END in seconds")
            }
            return CutRange(source: parts.dropLast(2).joined(separator: ":"), start: start, end: end)
        }

        func validate() throws {
            guard !cuts.isEmpty else { throw ValidationError("give at least one --cut FILE:START:END") }
            for cut in cuts { _ = try Self.parse(cut) }
            _ = try options
        }

        func run() async throws {
            let result = try await MediaEngine.render(try cuts.map(Self.parse), output: out, options: try options)
            if json { return try Media.printJSON(result) }
            print(
                String(
                    format: "%@: %.3f s, %d frames, %d bytes, %@ mode", result.path, result.duration, result.frames,
                    result.bytes, result.mode.rawValue))
            if let reason = result.fallbackReason { print("note: \(reason)") }
        }
    }
}
