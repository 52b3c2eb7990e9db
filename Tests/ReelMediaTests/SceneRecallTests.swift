import Foundation
import ReelMedia
import ReelSupport
import ReelTestSupport
import Testing

/// Scene detection decodes only reference frames first: these clips put their cuts on every kind of frame — B-frames
/// never decoded, B- and P-frames, keyframes, between keyframes — and every cut must still be found within one frame,
/// and nothing else.
@Suite("Scene detection recall")
struct SceneRecallTests {
    static let sources = [
        "testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "color=c=0x3050a0,noise=alls=20:allf=t",
        "pal75bars", "testsrc", "smptehdbars",
    ]
    /// Scene lengths in frames (25 fps): cuts at 37, 66, 96 (a keyframe: the GOP is 48), 137, 160, 192 (a keyframe),
    /// 225 and 251.
    static let lengths = [37, 29, 30, 41, 23, 32, 33, 26, 49]

    /// A clip of `lengths` scenes encoded with `x264` settings; returns its path and the cut frames.
    static func clip(in directory: TemporaryDirectory, name: String, x264: String) async throws -> (String, [Int]) {
        var arguments: [String] = []
        var filters = ""
        for (index, length) in lengths.enumerated() {
            let source = sources[index % sources.count]
            let (generator, extra) = source.split(separator: ",", maxSplits: 1).map(String.init).splitFirst()
            let options = generator.contains("=") ? ":size=320x240:rate=25" : "=size=320x240:rate=25"
            arguments += ["-f", "lavfi", "-i", generator + options + (extra.map { "," + $0 } ?? "")]
            filters += "[\(index):v]trim=end_frame=\(length),setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v\(index)];"
        }
        filters += lengths.indices.map { "[v\($0)]" }.joined() + "concat=n=\(lengths.count):v=1:a=0[v]"
        let path = directory.path(name)
        try await SampleMedia.ffmpeg(
            arguments + [
                "-filter_complex", filters, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-g", "48",
                "-sc_threshold", "0", "-x264-params", x264, path,
            ])
        let cuts = lengths.indices.dropFirst().map { lengths[..<$0].reduce(0, +) }
        return (path, cuts)
    }

    /// Each frame's picture type, in display order.
    static func pictureTypes(_ path: String) async throws -> [String] {
        try await SampleMedia.ffprobe([
            "-select_streams", "v", "-show_entries", "frame=pict_type", "-of", "csv=p=0", path,
        ]).filter { !$0.isEmpty }
    }

    /// Finds every cut within a frame and nothing else; returns the picture types the cuts fell on.
    static func expectRecall(_ path: String, cuts: [Int]) async throws -> Set<String> {
        let report = try await MediaEngine.detectScenes(path, minSceneSeconds: 0)
        let found = report.cuts.map { Int(($0.time * 25).rounded()) }
        for cut in cuts {
            #expect(found.contains { abs($0 - cut) <= 1 }, "cut at frame \(cut) missed; found \(found)")
        }
        for frame in found {
            #expect(cuts.contains { abs($0 - frame) <= 1 }, "no cut at frame \(frame); cuts \(cuts)")
        }
        #expect(found.count == cuts.count, "found \(found), cuts \(cuts)")
        // Decoded in three stretches at once (boundaries at 4 and 8 s), the same cuts and scenes.
        #expect(try await MediaEngine.detectScenes(path, minSceneSeconds: 0, segments: 3) == report)
        let types = try await pictureTypes(path)
        #expect(types.count == lengths.reduce(0, +))
        return Set(cuts.map { types[$0] })
    }

    @Test func cutsOnBAndPFramesAndKeyframesWithReferenceBFrames() async throws {
        let dir = try TemporaryDirectory(prefix: "recall-pyramid")
        // Three B-frames, the middle one a reference (b-pyramid): one frame in four is never decoded.
        let (path, cuts) = try await Self.clip(in: dir, name: "pyramid.mp4", x264: "bframes=3:b-pyramid=normal")
        let types = try await Self.expectRecall(path, cuts: cuts)
        #expect(types.isSuperset(of: ["I", "B"]), "cuts fell on \(types)")
    }

    @Test func cutsAcrossRunsOfSkippedBFramesAreLookedAtAgain() async throws {
        let dir = try TemporaryDirectory(prefix: "recall-flat")
        // Three B-frames, none a reference: runs of three frames are never decoded in the first pass.
        let (path, cuts) = try await Self.clip(
            in: dir, name: "flat.mp4", x264: "bframes=3:b-pyramid=none:b-adapt=0")
        let types = try await Self.expectRecall(path, cuts: cuts)
        #expect(types.isSuperset(of: ["I", "B"]), "cuts fell on \(types)")
    }

    @Test func cutsFarFromTheirKeyframeInOneLongGOP() async throws {
        let dir = try TemporaryDirectory(prefix: "recall-long-gop")
        // One keyframe for the whole clip: the second look at each cut decodes from frame 0, every frame only near
        // the cut.
        let (path, cuts) = try await Self.clip(
            in: dir, name: "long-gop.mp4", x264: "bframes=3:b-pyramid=normal:keyint=300:min-keyint=300:scenecut=0")
        let types = try await Self.expectRecall(path, cuts: cuts)
        #expect(!types.contains("I"), "cuts fell on \(types)")
    }

    @Test func cutsBetweenKeyframesOfAClipWithoutBFrames() async throws {
        let dir = try TemporaryDirectory(prefix: "recall-p")
        let (path, cuts) = try await Self.clip(in: dir, name: "p.mp4", x264: "bframes=0")
        let types = try await Self.expectRecall(path, cuts: cuts)
        #expect(types == ["I", "P"], "cuts fell on \(types)")
    }
}

extension Array where Element == String {
    /// The first element and, when there is one, the second.
    fileprivate func splitFirst() -> (String, String?) { (self[0], count > 1 ? self[1] : nil) }
}
