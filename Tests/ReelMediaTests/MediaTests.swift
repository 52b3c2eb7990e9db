import Foundation
import ReelMedia
import ReelTestSupport
import Testing

@Suite("Probe")
struct ProbeTests {
    @Test func sampleVideo() async throws {
        let dir = try TemporaryDirectory(prefix: "probe")
        let path = try await SampleMedia.sample(in: dir)
        let info = try await MediaEngine.probe(path, keyframes: true)
        #expect(info.container.contains("mp4"))
        #expect(abs((info.duration ?? 0) - 12) < 0.05)
        #expect((info.bitRate ?? 0) > 0)
        let video = try #require(info.streams.first { $0.kind == .video })
        #expect(video.codec == "h264")
        #expect(video.profile == "High")
        #expect(video.width == 320 && video.height == 240)
        #expect(video.frameRate == Rational(25, 1))
        #expect(video.rotation == 0)
        let audio = try #require(info.streams.first { $0.kind == .audio })
        #expect(audio.codec == "aac")
        #expect(audio.sampleRate == 48000)
        #expect(audio.channelLayout == "stereo")
        // Forced keyframes at every scene start (x264 may add its own at a cut).
        let keyframes = try #require(info.keyframes)
        for t in [0.0, 2, 4, 6, 8, 10] { #expect(keyframes.contains { abs($0 - t) < 0.001 }, "no keyframe at \(t)") }
    }

    @Test func rotationFromTheDisplayMatrix() async throws {
        let dir = try TemporaryDirectory(prefix: "rotate")
        let source = try await SampleMedia.sample(in: dir, seconds: 2)
        let rotated = dir.path("rotated.mp4")
        try await SampleMedia.ffmpeg(["-i", source, "-c", "copy", "-metadata:s:v", "rotate=90", rotated])
        let video = try #require(try await MediaEngine.probe(rotated).streams.first { $0.kind == .video })
        #expect(video.rotation == 270 || video.rotation == 90 || video.rotation == -90)
    }

    @Test func badFilesGiveClearErrors() async throws {
        let dir = try TemporaryDirectory(prefix: "bad")
        let empty = try dir.write("empty.mp4", "")
        let text = try dir.write("notes.mp4", "this is not a video\n")
        let source = try await SampleMedia.sample(in: dir, seconds: 12)
        let truncated = dir.path("truncated.mp4")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        for (path, code) in [
            (empty, MediaError.Code.invalidData), (text, .invalidData), (dir.path("missing.mp4"), .notFound),
        ] {
            let error = await #expect(throws: MediaError.self) { try await MediaEngine.probe(path) }
            #expect(error?.code == code, "\(path): \(String(describing: error))")
            #expect(error?.path == path)
        }
        // A file cut short (its index is at the front, +faststart) splits into the packets it still holds: fewer
        // chunks than the whole file, each a playable file, none empty.
        let chunks = try await MediaEngine.split(truncated, targetSeconds: 1, outputDirectory: dir.path("t-chunks"))
        let whole = try await MediaEngine.split(source, targetSeconds: 1, outputDirectory: dir.path("w-chunks"))
        #expect(!chunks.isEmpty && chunks.count < whole.count, "\(chunks.count) of \(whole.count) chunks")
        #expect(chunks.allSatisfy { $0.bytes > 0 })
        for chunk in chunks { #expect(try await SampleMedia.decodeErrors(chunk.path) == "", "\(chunk.path)") }
    }
}

@Suite("Split")
struct SplitTests {
    /// Checks chunks with the real ffprobe/ffmpeg: each starts with a keyframe at time 0 (or within the reorder
    /// delay, for containers that cannot hold negative timestamps), decodes cleanly, and together they cover the
    /// source; each chunk's start offset is a keyframe time of the source.
    /// `frame` is the longest frame interval: the chunks must add up to the source within one frame.
    func verify(_ chunks: [Chunk], source: String, expectVideo: Bool = true, frame: Double = 0.04) async throws {
        #expect(!chunks.isEmpty)
        let sourceDuration = try #require(
            Double(
                try await SampleMedia.ffprobe(["-show_entries", "format=duration", "-of", "csv=p=0", source]).first
                    ?? ""))
        let packetLines = try await SampleMedia.ffprobe(
            ["-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", source])
        let absoluteKeys = packetLines.compactMap { line -> Double? in
            let fields = line.split(separator: ",")
            guard fields.count >= 2, fields[1].hasPrefix("K") else { return nil }
            return Double(fields[0])
        }
        // Chunk offsets count from the source's first keyframe (MPEG-TS starts at 1.4 s, for one).
        let sourceKeys = absoluteKeys.map { $0 - (absoluteKeys.min() ?? 0) }
        var total = 0.0
        for chunk in chunks {
            #expect(try await SampleMedia.decodeErrors(chunk.path) == "", "\(chunk.path)")
            let duration = try #require(
                Double(
                    try await SampleMedia.ffprobe(["-show_entries", "format=duration", "-of", "csv=p=0", chunk.path])
                        .first ?? ""))
            #expect(abs(duration - chunk.duration) < 0.2, "\(chunk.path): ffprobe \(duration) vs \(chunk.duration)")
            total += chunk.duration
            if expectVideo {
                let first = try await SampleMedia.ffprobe(
                    [
                        "-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0",
                        "-read_intervals", "%+#1", chunk.path,
                    ])
                let fields = first.first?.split(separator: ",") ?? []
                #expect(fields.count >= 2 && fields[1].hasPrefix("K"), "\(chunk.path) starts with \(first)")
                // MP4 keeps B-frame delay in an edit list; Matroska and MPEG-TS shift timestamps non-negative
                // (MPEG-TS adds its mux delay too), so their first frame may sit a few frames after 0.
                #expect((fields.first.flatMap { Double($0) } ?? 9) <= 0.2, "\(chunk.path) starts at \(first)")
                #expect(
                    sourceKeys.contains { abs($0 - chunk.start) < 0.001 },
                    "chunk start \(chunk.start) is no source keyframe")
            }
        }
        #expect(abs(total - sourceDuration) <= frame + 0.001, "chunks add up to \(total), source is \(sourceDuration)")
        #expect(chunks.map(\.index) == Array(0..<chunks.count))
    }

    @Test func mp4WithBFramesAtKeyframesAfterEachBoundary() async throws {
        let dir = try TemporaryDirectory(prefix: "split")
        let source = try await SampleMedia.sample(in: dir)
        let chunks = try await MediaEngine.split(source, targetSeconds: 3, outputDirectory: dir.path("chunks"))
        // Boundaries at 3 and 6+3: the first keyframes at or after them are 4 and (7.96 or 8).
        #expect(chunks.count == 3)
        #expect(chunks.first?.start == 0)
        #expect(abs((chunks.dropFirst().first?.start ?? 0) - 4) < 0.001)
        #expect(chunks[1].startExact.seconds == chunks[1].start)
        try await verify(chunks, source: source)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path("chunks")).filter {
            $0.hasSuffix(".partial")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func maxBytesCutsEarlierAtAKeyframe() async throws {
        let dir = try TemporaryDirectory(prefix: "bytes")
        let source = try await SampleMedia.sample(in: dir)
        let chunks = try await MediaEngine.split(
            source, targetSeconds: 60, maxBytes: 1_000_000, outputDirectory: dir.path("c"))
        #expect(chunks.count > 1)
        try await verify(chunks, source: source)
    }

    @Test(arguments: [
        ("mkv", ["-c", "copy"]), ("ts", ["-c", "copy"]),
        ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "25", "-c:a", "libopus"]),
        (
            "mp4",
            [
                "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:log-level=error", "-tag:v",
                "hvc1", "-c:a", "copy",
            ]
        ),
    ])
    func otherContainersAndCodecs(ext: String, codecArguments: [String]) async throws {
        let dir = try TemporaryDirectory(prefix: "fmt")
        let source = try await SampleMedia.sample(in: dir, seconds: 6)
        let converted = dir.path("converted.\(ext)")
        try await SampleMedia.ffmpeg(["-i", source] + codecArguments + [converted])
        let chunks = try await MediaEngine.split(converted, targetSeconds: 2, outputDirectory: dir.path("c"))
        #expect(chunks.count >= 2)
        try await verify(chunks, source: converted)
    }

    @Test func audioOnlyAndVideoOnly() async throws {
        let dir = try TemporaryDirectory(prefix: "av")
        let source = try await SampleMedia.sample(in: dir, seconds: 6)
        let audio = dir.path("audio.m4a")
        let video = dir.path("video.mp4")
        try await SampleMedia.ffmpeg(["-i", source, "-vn", "-c", "copy", audio])
        try await SampleMedia.ffmpeg(["-i", source, "-an", "-c", "copy", video])
        let audioChunks = try await MediaEngine.split(audio, targetSeconds: 2, outputDirectory: dir.path("a"))
        #expect(audioChunks.count >= 3)  // AAC priming may leave a last chunk of a few frames
        try await verify(audioChunks, source: audio, expectVideo: false)
        let videoChunks = try await MediaEngine.split(video, targetSeconds: 2, outputDirectory: dir.path("v"))
        #expect(videoChunks.count == 3)
        try await verify(videoChunks, source: video)
    }

    @Test func mp4WithAnEditListStartingMidGOP() async throws {
        let dir = try TemporaryDirectory(prefix: "elst")
        let source = try await SampleMedia.sample(in: dir, seconds: 8)
        // A stream-copied cut starting at 1 s: the file starts at the keyframe at 0 and an edit list hides the first
        // second (its packets are flagged discard).
        let edited = dir.path("edited.mp4")
        try await SampleMedia.ffmpeg(["-ss", "1", "-i", source, "-c", "copy", edited])
        let chunks = try await MediaEngine.split(edited, targetSeconds: 2, outputDirectory: dir.path("c"))
        #expect(chunks.count >= 2)
        for chunk in chunks { #expect(try await SampleMedia.decodeErrors(chunk.path) == "", "\(chunk.path)") }
        let total = chunks.map(\.duration).reduce(0, +)
        #expect(total >= 6.9 && total <= 8.05, "chunks cover \(total) s of a 7 s edit (plus the hidden lead-in)")
    }

    @Test func variableFrameRate() async throws {
        let dir = try TemporaryDirectory(prefix: "vfr")
        let source = try await SampleMedia.sample(in: dir, seconds: 6)
        let vfr = dir.path("vfr.mp4")
        // Keep every frame for the first 3 s, every third after: frame durations change mid-stream.
        try await SampleMedia.ffmpeg([
            "-i", source, "-vf", "select='lt(t\\,3)+not(mod(n\\,3))'", "-vsync", "vfr", "-c:v", "libx264", "-g", "25",
            "-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "copy", vfr,
        ])
        let chunks = try await MediaEngine.split(vfr, targetSeconds: 2, outputDirectory: dir.path("c"))
        #expect(chunks.count >= 3)
        try await verify(chunks, source: vfr, frame: 0.12)  // after 3 s a frame lasts three 25 fps frames
    }

    @Test func oneFrameVideo() async throws {
        let dir = try TemporaryDirectory(prefix: "one")
        let path = dir.path("one.mp4")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-frames:v", "1", "-c:v", "libx264", path,
        ])
        let chunks = try await MediaEngine.split(path, targetSeconds: 1, outputDirectory: dir.path("c"))
        #expect(chunks.count == 1)
        #expect(try await SampleMedia.decodeErrors(chunks[0].path) == "")
    }
}

@Suite("Scene detection")
struct SceneTests {
    @Test func findsEveryHardCutOfTheSampleAndNothingElse() async throws {
        let dir = try TemporaryDirectory(prefix: "scenes")
        let source = try await SampleMedia.sample(in: dir)
        let report = try await MediaEngine.detectScenes(source)
        let frame = 1.0 / 25
        #expect(report.cuts.count == 5, "\(report.cuts)")
        for (cut, expected) in zip(report.cuts, [2.0, 4, 6, 8, 10]) {
            #expect(abs(cut.time - expected) <= frame, "cut at \(cut.time), expected \(expected)")
            #expect(cut.score >= 10)
        }
        #expect(report.scenes.count == 6)
        #expect(report.scenes.first?.start == 0)
        #expect(abs((report.scenes.last?.end ?? 0) - 12) <= frame)
        for scene in report.scenes {
            #expect((0...1).contains(scene.meanLuma) && (0...1).contains(scene.motion))
        }
        // Scenes differ in brightness: the summary tells them apart.
        #expect(Set(report.scenes.map { ($0.meanLuma * 10).rounded() }).count >= 4)
    }

    @Test func minSceneSecondsSuppressesCloseCuts() async throws {
        let dir = try TemporaryDirectory(prefix: "mins")
        let source = try await SampleMedia.sample(in: dir)
        let report = try await MediaEngine.detectScenes(source, minSceneSeconds: 3)
        #expect(report.cuts.map(\.time) == [4, 8])
        let none = try await MediaEngine.detectScenes(source, threshold: 99)
        #expect(none.cuts.isEmpty)
        #expect(none.scenes.count == 1)
    }

    @Test func audioOnlyHasNoScenes() async throws {
        let dir = try TemporaryDirectory(prefix: "noscene")
        let source = try await SampleMedia.sample(in: dir, seconds: 2)
        let audio = dir.path("a.m4a")
        try await SampleMedia.ffmpeg(["-i", source, "-vn", "-c", "copy", audio])
        let error = await #expect(throws: MediaError.self) { try await MediaEngine.detectScenes(audio) }
        #expect(error?.code == .unsupported)
    }
}

@Suite("Render, keyframe mode")
struct KeyframeRenderTests {
    let keyframe = RenderOptions(mode: .keyframe)

    @Test func threeRangesPlayContinuously() async throws {
        let dir = try TemporaryDirectory(prefix: "render")
        let a = try await SampleMedia.sample(in: dir, name: "a.mp4")
        let b = try await SampleMedia.sample(in: dir, name: "b.mp4")
        let output = dir.path("render.mp4")
        // Starts near keyframes (every 2 s), so the whole render stays within one GOP of what was asked.
        let cuts = [
            CutRange(source: a, start: 0, end: 1.5), CutRange(source: a, start: 4.2, end: 6),
            CutRange(source: b, start: 8, end: 9),
        ]
        let result = try await MediaEngine.render(cuts, output: output, options: keyframe)
        let requested = cuts.map { $0.end - $0.start }.reduce(0, +)
        let duration = try #require(
            Double(
                try await SampleMedia.ffprobe(["-show_entries", "format=duration", "-of", "csv=p=0", output]).first
                    ?? ""))
        #expect(abs(duration - requested) <= 2.0, "rendered \(duration) s for \(requested) s requested")
        #expect(abs(result.duration - duration) < 0.1)
        #expect(try await SampleMedia.decodeErrors(output) == "")
        // Decode timestamps rise monotonically in every stream, across the seams.
        let packets = try await SampleMedia.ffprobe([
            "-show_entries", "packet=stream_index,dts_time", "-of", "csv=p=0", output,
        ])
        var last: [String: Double] = [:]
        var backwards = 0
        for line in packets {
            let fields = line.split(separator: ",").map(String.init)
            guard fields.count == 2, let dts = Double(fields[1]) else { continue }
            if let previous = last[fields[0]], dts <= previous { backwards += 1 }
            last[fields[0]] = dts
        }
        #expect(backwards == 0)
        #expect(Set(packets.compactMap { $0.split(separator: ",").first.map(String.init) }) == ["0", "1"])
        // +faststart: the index comes before the media data.
        let head = try Data(contentsOf: URL(fileURLWithPath: output)).prefix(4096)
        let moov = head.range(of: Data("moov".utf8)), mdat = head.range(of: Data("mdat".utf8))
        #expect(moov != nil && (mdat == nil || moov!.lowerBound < mdat!.lowerBound))
    }

    /// Matroska (no decode timestamps on its first packets) and MPEG-TS (timestamps starting at 1.4 s) copy the
    /// same GOPs as MP4.
    @Test func everyContainerCopiesTheSameGOPs() async throws {
        let dir = try TemporaryDirectory(prefix: "kfcontainers")
        let mp4 = try await SampleMedia.sample(in: dir, seconds: 8, name: "a.mp4")
        var frames: [String: [String]] = [:]
        for ext in ["mp4", "mkv", "ts"] {
            let source = ext == "mp4" ? mp4 : dir.path("a.\(ext)")
            if ext != "mp4" { try await SampleMedia.ffmpeg(["-i", mp4, "-c", "copy", source]) }
            let output = dir.path("render-\(ext).mp4")
            let result = try await MediaEngine.render(
                [CutRange(source: source, start: 0, end: 1.5), CutRange(source: source, start: 4.5, end: 6)],
                output: output, options: keyframe)
            #expect(try await SampleMedia.decodeErrors(output) == "", "\(ext)")
            // From the keyframes at 0 and 4 s (every 2 s) to just past 1.5 and 6 s.
            #expect(result.duration >= 3.5 && result.duration < 3.5 + 0.5, "\(ext): \(result.duration) s")
            frames[ext] = try await SampleMedia.ffprobe(
                [
                    "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of",
                    "csv=p=0",
                    output,
                ])
        }
        #expect(frames["mkv"] == frames["mp4"] && frames["ts"] == frames["mp4"], "\(frames)")
    }

    @Test func incompatibleSourcesAreRefused() async throws {
        let dir = try TemporaryDirectory(prefix: "incompat")
        let a = try await SampleMedia.sample(in: dir, seconds: 4, name: "a.mp4")
        let small = dir.path("small.mp4")
        try await SampleMedia.ffmpeg(["-i", a, "-vf", "scale=160:120", "-c:v", "libx264", "-c:a", "copy", small])
        let error = await #expect(throws: MediaError.self) {
            try await MediaEngine.render(
                [CutRange(source: a, start: 0, end: 1), CutRange(source: small, start: 0, end: 1)],
                output: dir.path("x.mp4"),
                options: keyframe)
        }
        #expect(error?.code == .incompatible)
        #expect(error?.path == small)
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.mp4")))
        let empty = await #expect(throws: MediaError.self) {
            try await MediaEngine.render(
                [CutRange(source: a, start: 2, end: 1)], output: dir.path("y.mp4"), options: keyframe)
        }
        #expect(empty?.code == .unsupported)
    }
}
