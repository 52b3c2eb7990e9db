import Foundation
import ReelTestSupport
import Testing
import ReelSupport

@testable import ReelMedia

/// A source for the accuracy tests: `testsrc2` (a picture that moves every frame, so a frame off by one scores
/// far below the PSNR bound) with a sine tone, encoded by the real `ffmpeg` as `arguments` say.
struct RenderSource: Sendable, CustomTestStringConvertible {
    var name: String
    var seconds: Int = 8
    var rate = 25
    var video: [String]
    var audio: [String] = ["-c:a", "aac", "-b:a", "96k"]
    var filter = ""
    var cuts: [(Double, Double)] = [(0.4, 1.2), (5.0, 6.0), (2.0, 3.2)]

    var testDescription: String { name }

    func make(in dir: TemporaryDirectory) async throws -> String {
        let path = dir.path(name)
        let picture = "testsrc2=size=320x240:rate=\(rate)" + (filter.isEmpty ? "" : ",\(filter)")
        try await SampleMedia.ffmpeg(
            [
                "-f", "lavfi", "-t", "\(seconds)", "-i", picture, "-f", "lavfi", "-t", "\(seconds)", "-i",
                "sine=frequency=440:sample_rate=48000", "-map", "0:v", "-map", "1:a",
            ] + video + audio + [path])
        return path
    }

    static let all: [RenderSource] = [
        RenderSource(name: "gop1.mp4", video: ["-c:v", "libx264", "-g", "1", "-bf", "0"]),
        RenderSource(name: "gop60-bframes.mp4", video: ["-c:v", "libx264", "-g", "60", "-bf", "3"]),
        RenderSource(
            name: "one-keyframe.mp4", seconds: 20, video: ["-c:v", "libx264", "-g", "1000", "-bf", "2"],
            cuts: [(12.0, 13.0), (2.0, 3.0), (18.0, 19.6)]),
        RenderSource(name: "gop60.mkv", video: ["-c:v", "libx264", "-g", "60", "-bf", "2"]),
        RenderSource(name: "gop60.ts", video: ["-c:v", "libx264", "-g", "60", "-bf", "2"], audio: ["-c:a", "mp2"]),
        RenderSource(
            name: "vp9.webm", video: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "60"],
            audio: ["-c:a", "libopus"]),
        RenderSource(
            name: "hevc.mp4",
            video: ["-c:v", "libx265", "-x265-params", "log-level=error:keyint=60", "-tag:v", "hvc1"]),
        RenderSource(name: "10bit.mp4", video: ["-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-g", "60"]),
        RenderSource(
            name: "vfr.mp4", rate: 30, video: ["-c:v", "libx264", "-g", "60", "-vsync", "vfr"],
            filter: "select='lt(mod(n\\,10)\\,6)'", cuts: [(0.4, 1.2), (5.0, 6.0), (2.0, 3.2)]),
    ]
}

/// What the real ffprobe says of a file.
enum Probe {
    /// The first video stream's start time and every frame's presentation time.
    static func frameTimes(_ path: String) async throws -> (origin: Double, times: [Double]) {
        try await frameTimes(path, relativeToFormat: false)
    }

    /// The same; with `relativeToFormat`, the origin counts from the file's start time, which the ffmpeg CLI
    /// moves to 0 (an MPEG-TS file's video starts a little after its audio).
    static func frameTimes(_ path: String, relativeToFormat: Bool) async throws -> (origin: Double, times: [Double]) {
        let format = try await SampleMedia.ffprobe(["-show_entries", "format=start_time", "-of", "csv=p=0", path])
        let shift = relativeToFormat ? Double(format.first ?? "") ?? 0 : 0
        let start = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "stream=start_time", "-of", "csv=p=0", path])
        let times = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        return (
            (Double(start.first ?? "") ?? 0) - shift,
            times.compactMap { Double($0.trimmingCharacters(in: .punctuationCharacters)) }
        )
    }

    /// Each stream's type and duration.
    static func durations(_ path: String) async throws -> [String: Double] {
        var result: [String: Double] = [:]
        for line in try await SampleMedia.ffprobe(
            ["-show_entries", "stream=codec_type,duration", "-of", "csv=p=0", path])
        {
            let fields = line.split(separator: ",").map(String.init)
            if fields.count >= 2, let seconds = Double(fields[1]) { result[fields[0]] = seconds }
        }
        return result
    }

    /// The per-frame PSNR of `output` against the source frames `cuts` name: for each cut, ffmpeg's own `trim`
    /// takes [start, end) of the source and the cut's stretch of the output, both are moved to 0 and the `psnr`
    /// filter pairs their frames by timestamp (so variable frame rates compare frame for frame). Returns the mean
    /// of the cuts' averages and the worst frame's PSNR, over Y, U and V.
    static func psnr(_ output: String, against source: String, cuts: [(Double, Double)], halfFrame: Double)
        async throws -> (average: Double, minimum: Double)
    {
        let origin = try await frameTimes(source, relativeToFormat: true).origin
        let outputOrigin = try await frameTimes(output, relativeToFormat: true).origin
        var graph = "[0:v]split=\(cuts.count)" + cuts.indices.map { "[o\($0)]" }.joined() + ";"
        graph += "[1:v]split=\(cuts.count)" + cuts.indices.map { "[s\($0)]" }.joined() + ";"
        var offset = 0.0
        for (i, cut) in cuts.enumerated() {
            let length = cut.1 - cut.0
            // Boundaries half a frame early: a frame exactly on one belongs to the cut it starts, whatever the
            // CLI's own rounding of shifted timestamps.
            let o = outputOrigin + offset - halfFrame
            let s = origin + cut.0 - halfFrame
            graph += "[o\(i)]trim=start=\(o):end=\(o + length),setpts=PTS-STARTPTS,format=yuv420p[a\(i)];"
            graph += "[s\(i)]trim=start=\(s):end=\(s + length),setpts=PTS-STARTPTS,format=yuv420p[b\(i)];"
            graph += "[a\(i)][b\(i)]psnr[p\(i)]" + (i == cuts.count - 1 ? "" : ";")
            offset += length
        }
        let sinks = cuts.indices.flatMap { ["-map", "[p\($0)]"] }
        let result = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg",
            ["-hide_banner", "-i", output, "-i", source, "-filter_complex", graph] + sinks + ["-f", "null", "-"])
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("PSNR y:") }
        try #require(lines.count == cuts.count, "ffmpeg: \(result.stderr.suffix(2000))")
        func value(_ line: Substring, _ key: String) -> Double {
            guard let range = line.range(of: " " + key + ":") else { return 0 }
            let rest = line[range.upperBound...].prefix { !$0.isWhitespace }
            return rest == "inf" ? 100 : Double(rest) ?? 0
        }
        let averages = lines.map { value($0, "average") }
        let minimums = lines.map { value($0, "min") }
        return (averages.reduce(0, +) / Double(averages.count), minimums.min() ?? 0)
    }
}

/// Serialized: each case runs ffmpeg and libx264 on both cores; nine at once starved the rest of the run.
@Suite("Render, exact mode", .serialized)
struct ExactRenderTests {
    @Test(arguments: RenderSource.all)
    func everyFrameIsTheOneTheTimelineNames(_ source: RenderSource) async throws {
        let dir = try TemporaryDirectory(prefix: "exact")
        let path = try await source.make(in: dir)
        let result = try await Self.checkAccuracy(source, path, mode: .exact, in: dir)
        #expect(result.mode == .exact)
    }

    /// Renders `source`'s cuts in `mode` (CRF 16) and checks the render against the source with the real ffprobe
    /// and ffmpeg: its frames are exactly the timeline's, each the picture it should be, and it lasts the timeline.
    static func checkAccuracy(_ source: RenderSource, _ path: String, mode: RenderMode, in dir: TemporaryDirectory)
        async throws -> RenderResult
    {
        let output = dir.path("render-\(mode).mp4")
        let cuts = source.cuts.map { CutRange(source: path, start: $0.0, end: $0.1) }
        let result = try await MediaEngine.render(cuts, output: output, options: RenderOptions(mode: mode, crf: 16))

        // Exactly the source frames in [start, end) of each cut.
        let (origin, times) = try await Probe.frameTimes(path)
        let expected = source.cuts.map { cut in
            times.filter { $0 - origin >= cut.0 - 0.0005 && $0 - origin < cut.1 - 0.0005 }.count
        }.reduce(0, +)
        let rendered = try await Probe.frameTimes(output).times.count
        #expect(rendered == expected, "\(rendered) frames rendered, \(expected) in the timeline")
        #expect(result.frames == expected)

        // Each of them is the right picture: a frame off by one scores far lower on testsrc2.
        let psnr = try await Probe.psnr(output, against: path, cuts: source.cuts, halfFrame: 0.5 / Double(source.rate))
        #expect(psnr.average >= 40, "average PSNR \(psnr.average) dB")
        #expect(psnr.minimum >= 35, "worst frame PSNR \(psnr.minimum) dB")

        // The render lasts the timeline, and audio ends with the video (within one AAC frame).
        let timeline = source.cuts.map { $0.1 - $0.0 }.reduce(0, +)
        let durations = try await Probe.durations(output)
        let video = try #require(durations["video"])
        let audio = try #require(durations["audio"])
        #expect(abs(video - timeline) <= 1.0 / Double(source.rate) + 0.001, "video \(video) s for \(timeline) s")
        #expect(abs(audio - video) <= 1024.0 / 48000 + 0.001, "audio \(audio) s, video \(video) s")
        #expect(abs(result.duration - timeline) < 0.000_001)
        let errors = try await SampleMedia.decodeErrors(output)
        #expect(errors == "")
        return result
    }

    @Test func rotationIsKept() async throws {
        let dir = try TemporaryDirectory(prefix: "rotated")
        let plain = try await RenderSource(name: "plain.mp4", seconds: 3, video: ["-c:v", "libx264"]).make(in: dir)
        let phone = dir.path("phone.mp4")
        try await SampleMedia.ffmpeg(["-i", plain, "-c", "copy", "-metadata:s:v", "rotate=90", phone])
        let source = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", phone])
        #expect(!source.isEmpty)
        for mode in RenderMode.allCases {
            let output = dir.path("render-\(mode).mp4")
            let result = try await MediaEngine.render(
                [CutRange(source: phone, start: 0.4, end: 2)], output: output, options: RenderOptions(mode: mode))
            #expect(result.mode == mode)
            let rotation = try await SampleMedia.ffprobe(
                ["-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", output])
            #expect(rotation == source, "\(mode): rotation \(rotation), source \(source)")
        }
    }

    @Test func hevcOutputWhenAsked() async throws {
        let dir = try TemporaryDirectory(prefix: "tohevc")
        let path = try await RenderSource(name: "a.mp4", seconds: 3, video: ["-c:v", "libx264"]).make(in: dir)
        let output = dir.path("render.mp4")
        let result = try await MediaEngine.render(
            [CutRange(source: path, start: 1, end: 2)], output: output,
            options: RenderOptions(codec: .hevc, crf: 20, preset: "ultrafast"))
        #expect(result.frames == 25)
        let codec = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", output])
        #expect(codec == ["hevc"])
    }

    @Test func sourcesOfDifferentSizesJoin() async throws {
        let dir = try TemporaryDirectory(prefix: "sizes")
        let a = try await RenderSource(name: "a.mp4", seconds: 2, video: ["-c:v", "libx264"]).make(in: dir)
        let b = try await RenderSource(
            name: "b.mkv", seconds: 2, rate: 30, video: ["-c:v", "libx264"], filter: "scale=160:120"
        )
        .make(in: dir)
        let output = dir.path("render.mp4")
        let result = try await MediaEngine.render(
            [CutRange(source: a, start: 0, end: 1), CutRange(source: b, start: 0, end: 1)], output: output)
        #expect(result.frames == 25 + 30)
        let size = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", output])
        #expect(size == ["320,240"])
        let errors = try await SampleMedia.decodeErrors(output)
        #expect(errors == "")
    }
}

/// Serialized: each case runs ffmpeg and libx264 on both cores; nine at once starved the rest of the run.
@Suite("Render, smart mode", .serialized)
struct SmartRenderTests {
    /// H.264 with avcC parameter sets renders smart; everything else falls back to exact and says why — and both
    /// are frame-accurate.
    @Test(arguments: RenderSource.all)
    func frameAccurateOrExactWithAReason(_ source: RenderSource) async throws {
        let dir = try TemporaryDirectory(prefix: "smart")
        let path = try await source.make(in: dir)
        let result = try await ExactRenderTests.checkAccuracy(source, path, mode: .smart, in: dir)
        let matchable = ["gop1.mp4", "gop60-bframes.mp4", "one-keyframe.mp4", "gop60.mkv", "vfr.mp4"].contains(
            source.name)
        #expect(result.mode == (matchable ? .smart : .exact))
        #expect((result.fallbackReason == nil) == matchable, "\(result.fallbackReason ?? "")")
    }

    /// The packets between a cut's first and last IDR keyframe are the source's, bit for bit; only the stretches
    /// before and after them are encoded.
    @Test func wholeGOPsAreCopiedBitForBit() async throws {
        let dir = try TemporaryDirectory(prefix: "smartcopy")
        let source = RenderSource(
            name: "gop25.mp4", video: ["-c:v", "libx264", "-g", "25", "-bf", "2"], cuts: [(0.4, 3.6), (5.2, 7.0)])
        let path = try await source.make(in: dir)
        let result = try await ExactRenderTests.checkAccuracy(source, path, mode: .smart, in: dir)
        #expect(result.mode == .smart)
        func hashes(_ file: String) async throws -> [String] {
            try await SampleMedia.ffprobe(
                [
                    "-select_streams", "v:0", "-show_data_hash", "MD5", "-show_entries", "packet=data_hash", "-of",
                    "csv=p=0",
                    file,
                ])
        }
        let sourceHashes = Set(try await hashes(path))
        let output = try await hashes(dir.path("render-smart.mp4"))
        // Keyframes every second: [1, 3) of the first cut and [6, 7) of the second are copied (75 frames); the
        // 0.6 + 0.6 + 0.8 s around them (50 frames) are encoded.
        #expect(output.count == 125)
        #expect(output.filter(sourceHashes.contains).count == 75)
    }

    /// The encoded runs keep to the source's profile (a Main or Baseline file stays one) and the avcC record
    /// keeps the High profile's extra fields.
    @Test(arguments: ["baseline", "main", "high"])
    func theSourcesProfileIsKept(_ profile: String) async throws {
        let dir = try TemporaryDirectory(prefix: "smartprofile")
        let source = RenderSource(
            name: "\(profile).mp4", video: ["-c:v", "libx264", "-profile:v", profile, "-g", "25"],
            cuts: [(0.4, 2.6)])
        let path = try await source.make(in: dir)
        let result = try await ExactRenderTests.checkAccuracy(source, path, mode: .smart, in: dir)
        #expect(result.mode == .smart, "\(result.fallbackReason ?? "")")
        func facts(_ file: String) async throws -> [String] {
            try await SampleMedia.ffprobe(
                ["-select_streams", "v:0", "-show_entries", "stream=profile,level", "-of", "csv=p=0", file])
        }
        #expect(try await facts(dir.path("render-smart.mp4")) == (try await facts(path)))
    }

    @Test func otherCodecsAndPacketFormatsFallBackToExact() async throws {
        let dir = try TemporaryDirectory(prefix: "smartfallback")
        let ts = try await RenderSource(name: "a.ts", seconds: 3, video: ["-c:v", "libx264"], audio: ["-c:a", "mp2"])
            .make(in: dir)
        let result = try await MediaEngine.render(
            [CutRange(source: ts, start: 0.4, end: 2)], output: dir.path("out.mp4"),
            options: RenderOptions(mode: .smart))
        #expect(result.mode == .exact)
        #expect(result.fallbackReason?.contains("Annex B") == true, "\(result.fallbackReason ?? "")")
        #expect(result.frames == 40)
    }
}

@Suite("Cut reading")
struct CutReaderTests {
    /// A range starting on a keyframe decodes from that keyframe, not from the one before it that the seek
    /// (aimed a little early, for audio stored ahead of the video) lands on.
    @Test func decodingStartsAtTheLastKeyframeBeforeTheRange() async throws {
        let dir = try TemporaryDirectory(prefix: "gate")
        let path = try await RenderSource(name: "gop25.mp4", video: ["-c:v", "libx264", "-g", "25", "-bf", "2"])
            .make(in: dir)
        let reader = try CutReader(path: path)
        var times: [Double] = []
        try reader.read(start: 3, end: 3.2, onVideo: { _, t in times.append(t) }, onAudio: { _, _ in })
        #expect(times.count == 5 && abs(times[0] - 3) < 0.001, "\(times)")
        // From the keyframe at 3 s to the first frame at or after 3.2 s, give or take the B-frame reorder delay
        // (the keyframe at 2 s would be 25 more).
        let decoded = try #require(reader.video?.frames)
        #expect(decoded <= 10, "\(decoded) frames decoded")
    }
}
