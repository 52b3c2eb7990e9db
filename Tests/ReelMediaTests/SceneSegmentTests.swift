import CFFmpeg
import Foundation
import ReelTestSupport
import Testing

@testable import ReelMedia

/// Scene detection decodes a file in stretches at once (`SceneDetector+Segments`): the stretches must join into
/// exactly the measures of one pass — so the cuts and scenes are the same — or be given up for one pass.
@Suite("Scene detection in stretches")
struct SceneSegmentTests {
    /// The measures of `path`'s reference frames decoded in `segments` stretches (`nil` if they did not join), and
    /// in one pass, as the detector takes them; on the media executor.
    static func measures(_ path: String, segments: Int, snapToKeyframes: Bool = true) async throws
        -> ([FrameMeasure]?, [FrameMeasure])
    {
        try await MediaEngine.offload { () throws(MediaError) in
            let detector = SceneDetector(input: try InputFile(path: path), threshold: 10, minSceneSeconds: 0)
            guard let videoIndex = detector.input.bestStream(AVMEDIA_TYPE_VIDEO) else {
                throw MediaError(.unsupported, "no video stream", path: path)
            }
            let joined = detector.measureInSegments(
                videoIndex, count: segments, frameDuration: 0, snapToKeyframes: snapToKeyframes)?.measures
            let source = try FrameSource(
                try InputFile(path: path), videoIndex, width: 160, skipping: AVDISCARD_NONREF, threads: 0)
            var measurer = FrameMeasurer()
            var whole: [FrameMeasure] = []
            try source.frames { (thumb, time) throws(MediaError) -> Bool in
                whole.append(measurer.measure(thumb, time: time))
                return true
            }
            return (joined, whole)
        }
    }

    /// The sample's cuts fall every 2 s on keyframes: six stretches start exactly on cuts, three on two of them,
    /// two between; stretches that start on keyframes, or a second early where no keyframe is named.
    @Test(arguments: [(2, true), (3, true), (6, true), (3, false), (5, false)])
    func stretchesJoinIntoOnePassAndFindTheSameCuts(segments: Int, snapToKeyframes: Bool) async throws {
        let dir = try TemporaryDirectory(prefix: "scene-segments")
        let path = try await SampleMedia.sample(in: dir)
        let (joined, whole) = try await Self.measures(path, segments: segments, snapToKeyframes: snapToKeyframes)
        #expect(joined != nil, "the stretches did not join")
        #expect(joined == whole)
        #expect(whole.count > 200)
        let apart = try await MediaEngine.detectScenes(path, minSceneSeconds: 0, segments: segments)
        let together = try await MediaEngine.detectScenes(path, minSceneSeconds: 0, segments: 1)
        #expect(apart == together)
        // Every hard cut, and at no minimum scene length scdet's own hit in the fast-changing `life` scene (10.08 s).
        #expect(apart.cuts.map { ($0.time * 25).rounded() / 25 } == [2, 4, 6, 8, 10, 10.08])
    }

    /// Stretches join only where each measured its first frame against a frame it decoded, frames came in time
    /// order, and the frame one decoded past its end measures as the next one's first.
    @Test func stretchesThatDoNotJoinAreGivenUp() {
        func frame(_ time: Double, _ mafd: Double?) -> FrameMeasure {
            FrameMeasure(time: time, meanLuma: 0.5, mafd: mafd)
        }
        typealias Segment = SceneDetector.Segment
        let first = Segment(measures: [frame(0, nil), frame(1, 2)], firstDecoded: 0, next: frame(2, 3))
        let second = Segment(measures: [frame(2, 3), frame(3, 1)], firstDecoded: 1.5)
        #expect(SceneDetector.join([first, second], bounds: [0, 1.5, 4]) == first.measures + second.measures)
        // The next stretch measured its first frame against another one, or against nothing.
        var other = second
        other.measures[0].mafd = 4
        #expect(SceneDetector.join([first, other], bounds: [0, 1.5, 4]) == nil)
        // It began decoding after its start.
        other = second
        other.firstDecoded = 2
        #expect(SceneDetector.join([first, other], bounds: [0, 1.5, 4]) == nil)
        // Its frames came out of time order.
        other = second
        other.ordered = false
        #expect(SceneDetector.join([first, other], bounds: [0, 1.5, 4]) == nil)
        // A last stretch past the last frame is empty, and joins.
        let ended = Segment(measures: [frame(0, nil), frame(1, 2)], firstDecoded: 0)
        #expect(SceneDetector.join([ended, Segment(firstDecoded: nil)], bounds: [0, 1.5, 4]) == ended.measures)
    }

    /// MPEG-TS seeks by estimate, not by an index: whether its stretches join or are given up, the cuts are those of
    /// one pass.
    @Test func aTransportStreamFindsWhatOnePassFinds() async throws {
        let dir = try TemporaryDirectory(prefix: "scene-segments-ts")
        let mp4 = try await SampleMedia.sample(in: dir, seconds: 24)
        let ts = dir.path("sample.ts")
        try await SampleMedia.ffmpeg(["-i", mp4, "-c", "copy", "-f", "mpegts", ts])
        let apart = try await MediaEngine.detectScenes(ts, minSceneSeconds: 0, segments: 4)
        let together = try await MediaEngine.detectScenes(ts, minSceneSeconds: 0, segments: 1)
        #expect(apart == together)
        // Times are the stream's, which MPEG-TS starts at 1.48 s here.
        let start = try #require(apart.scenes.first?.start)
        let found = Set(apart.cuts.map { (($0.time - start) * 25).rounded() / 25 })
        #expect(found.isSuperset(of: stride(from: 2.0, through: 22, by: 2)), "\(found)")
    }

    /// A second look in MPEG-TS seeks by estimate, often to a frame that is no keyframe; HEVC then decodes pictures
    /// from references it never had. The looks wait for a keyframe, so the cuts and their scores are the MP4's: in
    /// one pass and in stretches (where most looks are answered from the pass and the rest seek).
    @Test func aLongGOPTransportStreamScoresItsCutsAsItsMP4Does() async throws {
        let dir = try TemporaryDirectory(prefix: "scene-segments-hevc-ts")
        let (h264, cuts) = try await SceneRecallTests.clip(in: dir, name: "clip.mp4", x264: "bframes=3")
        let mp4 = dir.path("hevc.mp4")
        try await SampleMedia.ffmpeg([
            "-i", h264, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
            "keyint=100:min-keyint=100:scenecut=0:bframes=4:b-pyramid=1:log-level=error", mp4,
        ])
        let ts = dir.path("hevc.ts")
        try await SampleMedia.ffmpeg(["-i", mp4, "-c", "copy", "-f", "mpegts", ts])
        let reference = try await MediaEngine.detectScenes(mp4, minSceneSeconds: 0, segments: 1)
        #expect(reference.cuts.count == cuts.count, "\(reference.cuts) \(cuts)")
        for segments in [1, 3] {
            let report = try await MediaEngine.detectScenes(ts, minSceneSeconds: 0, segments: segments)
            let start = try #require(report.scenes.first?.start)
            let shifted = report.cuts.map { SceneCut(time: (($0.time - start) * 25).rounded() / 25, score: $0.score) }
            #expect(shifted == reference.cuts, "in \(segments) stretches")
        }
    }

    @Test func filesUnder40SecondsOrOfUnknownLengthAreOnePass() {
        #expect(SceneDetector.automaticSegments(duration: nil) == 1)
        #expect(SceneDetector.automaticSegments(duration: 12) == 1)
        #expect(SceneDetector.automaticSegments(duration: 39) == 1)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(SceneDetector.automaticSegments(duration: 600) == min(cores, 30))
    }
}

/// The second looks at cuts found across skipped frames: made in the stretches' threads, and each going on from the
/// one before in the same GOP rather than decoding it again from its keyframe.
@Suite("Scene detection's second looks")
struct SceneLookTests {
    /// What detecting `path`'s cuts in `segments` stretches did: its report, the looks the stretches made, and the
    /// looks and seeks the scorer made itself.
    struct Detection: Sendable {
        var report: SceneReport
        var madeInStretches: Int
        var looked: Int
        var answeredInPass: Int
        var looks: [SceneDetector.Look: SceneCut?]
        var seeks: Int?
    }

    static func detect(_ path: String, segments: Int) async throws -> Detection {
        try await MediaEngine.offload { () throws(MediaError) in
            let detector = SceneDetector(input: try InputFile(path: path), threshold: 10, minSceneSeconds: 0)
            var scorer = try detector.detect(segments: segments)
            return Detection(
                report: scorer.state.report(), madeInStretches: scorer.looks.count, looked: scorer.looked,
                answeredInPass: scorer.answeredInPass, looks: scorer.looks, seeks: scorer.second?.seeks)
        }
    }

    @Test func stretchesMakeTheirOwnSecondLooks() async throws {
        let dir = try TemporaryDirectory(prefix: "looks-stretches")
        // Runs of three non-reference B-frames: most cuts fall in them and need a second look.
        let (path, _) = try await SceneRecallTests.clip(
            in: dir, name: "flat.mp4", x264: "bframes=3:b-pyramid=none:b-adapt=0")
        let one = try await Self.detect(path, segments: 1)
        let three = try await Self.detect(path, segments: 3)
        #expect(one.looked >= 4, "looks in one pass: \(one.looked)")
        #expect(three.madeInStretches >= one.looked, "looks made in the stretches: \(three.madeInStretches)")
        #expect(three.looked == 0, "looks left to the scorer: \(three.looked)")
        #expect(three.report == one.report)
    }

    /// Where packet sizes show a likely cut, a stretch decodes the skipped frames there as it measures, and answers
    /// the cut's second look from them instead of decoding again from the keyframe: the report is one pass's.
    @Test(arguments: [
        "bframes=3:b-pyramid=normal:keyint=100:min-keyint=100:scenecut=0", "bframes=3:b-pyramid=none:b-adapt=0",
    ])
    func looksAreAnsweredFromTheFramesAroundLikelyCuts(x264: String) async throws {
        let dir = try TemporaryDirectory(prefix: "looks-in-pass")
        let (path, cuts) = try await SceneRecallTests.clip(in: dir, name: "clip.mp4", x264: x264)
        let one = try await Self.detect(path, segments: 1)
        let three = try await Self.detect(path, segments: 3)
        #expect(three.report == one.report)
        let found = three.report.cuts.map { Int(($0.time * 25).rounded()) }
        #expect(found.count == cuts.count && zip(found, cuts).allSatisfy { abs($0 - $1) <= 1 }, "\(found) \(cuts)")
        #expect(three.looked == 0, "looks left to the scorer: \(three.looked)")
        #expect(
            three.answeredInPass * 4 >= three.madeInStretches * 3,
            "answered in the pass: \(three.answeredInPass) of \(three.madeInStretches)")
        // Each answer is what a second look decoding every frame gives.
        let looks = three.looks
        let decoded = try await MediaEngine.offload { () throws(MediaError) in
            let input = try InputFile(path: path)
            let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO) ?? 0
            return try looks.keys.sorted { $0.after < $1.after }.map { look throws(MediaError) in
                let source = try SceneDetector.lookSource(path, videoIndex, width: 160)
                return (
                    look,
                    try SceneDetector.closer(
                        source, after: look.after, through: look.through, look.frameDuration, threshold: 10)
                )
            }
        }
        for (look, cut) in decoded { #expect(looks[look] == .some(cut), "\(look)") }
    }

    @Test func looksInOneGOPGoOnFromEachOther() async throws {
        let dir = try TemporaryDirectory(prefix: "looks-gop")
        // One keyframe for the whole clip.
        let (path, cuts) = try await SceneRecallTests.clip(
            in: dir, name: "long-gop.mp4", x264: "bframes=3:b-pyramid=normal:keyint=300:min-keyint=300:scenecut=0")
        let one = try await Self.detect(path, segments: 1)
        #expect(one.looked >= cuts.count / 2, "looks: \(one.looked) for \(cuts.count) cuts")
        #expect(one.seeks == 1, "seeks: \(String(describing: one.seeks))")
    }
}
