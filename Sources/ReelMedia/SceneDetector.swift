import CFFmpeg
import FoundationEssentials

/// A hard cut: where it is and how strongly the picture changed there (FFmpeg scdet's score, 0–100).
public struct SceneCut: Sendable, Codable, Equatable {
    public var time: Double
    public var score: Double
}

/// A stretch between cuts, summarized for the local analyzer.
public struct SceneSummary: Sendable, Codable, Equatable {
    public var start: Double
    public var end: Double
    /// Mean luma, 0 (black) to 1 (white).
    public var meanLuma: Double
    /// Mean frame-to-frame change, 0 (still) to 1.
    public var motion: Double
}

/// What scene detection found.
public struct SceneReport: Sendable, Codable, Equatable {
    public var cuts: [SceneCut]
    public var scenes: [SceneSummary]
}

/// Finds hard cuts as FFmpeg's `scdet` scores them (see `ScoreState`) on 160-pixel luma thumbnails, decoding as
/// little as that needs:
///
/// 1. One pass decodes only the frames other frames refer to (`skip_frame = AVDISCARD_NONREF`: most B-frames are
///    never decoded), without the deblocking filter (it changes nothing a thumbnail can see) and with the
///    decoder's non-bit-exact shortcuts, scoring each decoded frame against the one before it, the MAFD scaled to
///    the frame steps between them.
/// 2. A cut found across skipped frames is looked at again on a second opening of the file: every frame around
///    it is decoded (the referenced ones from the keyframe before it, or on from the previous look in the same
///    GOP); the cut moves to the frame that scores highest, or is dropped when none reaches the threshold (content
///    that changes fast but not linearly, which the scaled MAFD mistakes for a cut). Cuts between consecutive
///    frames — on keyframes, P-frames, reference B-frames — need nothing more.
///
/// The first pass's decoding is the cost, so a long file is decoded in stretches at once, one per core, each by a
/// single-threaded decoder (`SceneDetector+Segments`); they join into exactly the measures of one pass, and each
/// makes the second looks its own cuts need. A stretch reads packets ahead of its decoder and also decodes the
/// skipped frames where packet sizes make a cut likely (`LikelyCuts`), so most second looks are answered from frames
/// already decoded (`PassLooks`) instead of decoding a GOP's reference frames again.
struct SceneDetector {
    let input: InputFile
    let threshold: Double
    let minSceneSeconds: Double
    /// Width of the luma thumbnail compared (height keeps the aspect).
    let analysisWidth = 160

    /// Finds the cuts, measuring the frames in `segments` stretches decoded at once (`SceneDetector+Segments`;
    /// by default one per core for files of 40 s and more) or in one pass.
    func run(segments: Int? = nil) throws(MediaError) -> SceneReport {
        var scorer = try detect(segments: segments)
        return scorer.state.report()
    }

    /// `run`'s work: the scorer that took every measured frame.
    func detect(segments: Int? = nil) throws(MediaError) -> Scorer {
        guard let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(.unsupported, "no video stream", path: input.path)
        }
        let stream = input.stream(videoIndex)
        let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        let frameDuration = rate.num > 0 ? Double(rate.den) / Double(rate.num) : 0
        var scorer = Scorer(detector: self, videoIndex: videoIndex, frameDuration: frameDuration)
        let count = segments ?? Self.automaticSegments(duration: Self.timeRange(input, videoIndex)?.duration)
        if count > 1, let joined = measureInSegments(videoIndex, count: count, frameDuration: frameDuration) {
            scorer.looks = joined.looks
            scorer.answeredInPass = joined.answeredInPass
            for frame in joined.measures { try scorer.take(frame) }
        } else {
            // One pass; after a try in stretches that did not join, on a fresh opening of the file.
            let file = count > 1 ? try InputFile(path: input.path) : input
            let main = try FrameSource(file, videoIndex, width: analysisWidth, skipping: AVDISCARD_NONREF, threads: 0)
            var measurer = FrameMeasurer()
            try main.frames { (thumb, time) throws(MediaError) -> Bool in
                try scorer.take(measurer.measure(thumb, time: time))
                return true
            }
        }
        return scorer
    }

    /// Scores measured frames in order: the frame steps between decoded frames, and the second look at a cut found
    /// across skipped frames (made already, on a stretch's thread, when it is in `looks`).
    struct Scorer {
        let detector: SceneDetector
        let videoIndex: Int
        var steps: FrameSteps
        var state: ScoreState
        var looks: [Look: SceneCut?] = [:]
        /// Second looks made here, in order (the rest came from `looks`).
        var looked = 0
        /// Of `looks`, those the stretches answered from frames they decoded anyway (`PassLooks`).
        var answeredInPass = 0
        /// Cuts across skipped frames are confirmed on a second opening of the file.
        var second: FrameSource?

        init(detector: SceneDetector, videoIndex: Int, frameDuration: Double) {
            self.detector = detector
            self.videoIndex = videoIndex
            steps = FrameSteps(frameDuration: frameDuration)
            state = ScoreState(threshold: detector.threshold, minSceneSeconds: detector.minSceneSeconds)
        }

        mutating func take(_ frame: FrameMeasure) throws(MediaError) {
            let count = steps.advance(to: frame.time)
            var (second, looked) = (self.second, self.looked)
            defer { (self.second, self.looked) = (second, looked) }
            let (detector, videoIndex, frameDuration, looks) = (
                self.detector, self.videoIndex, steps.frameDuration, self.looks
            )
            try state.add(frame, steps: count) { after, time throws(MediaError) in
                if let made = looks[Look(after: after, through: time, frameDuration: frameDuration)] { return made }
                if second == nil {
                    second = try SceneDetector.lookSource(
                        detector.input.path, videoIndex, width: detector.analysisWidth)
                }
                looked += 1
                return try SceneDetector.closer(
                    second!, after: after, through: time, frameDuration, threshold: detector.threshold)
            }
        }
    }

    /// A second look's question: the decoded frames it falls between, at the frame duration then known.
    struct Look: Hashable, Sendable {
        var after: Double
        var through: Double
        var frameDuration: Double
    }

    /// The frame steps between decoded frames, from their times: the stream's frame duration until a shorter gap
    /// between two decoded frames shows the real one.
    struct FrameSteps {
        var frameDuration: Double
        var last: Double?

        mutating func advance(to time: Double) -> Int {
            var steps = 1
            if let last, time > last {
                if frameDuration <= 0 || time - last < frameDuration * 0.75 { frameDuration = time - last }
                steps = max(1, Int(((time - last) / frameDuration).rounded()))
            }
            last = time
            return steps
        }
    }

    /// A second opening of the file for second looks: every frame, few each time, so one thread and no
    /// frame-threading delay. Where the container keeps no index, it seeks to the `keyframes` a pass read.
    static func lookSource(
        _ path: String, _ videoIndex: Int, width: Int, keyframes: KeyframeTable? = nil
    ) throws(MediaError) -> FrameSource {
        let source = try FrameSource(
            try InputFile(path: path), videoIndex, width: width, skipping: AVDISCARD_DEFAULT, threads: 1)
        source.keyframeAfterSeek = true
        if let keyframes, !keyframes.isEmpty, !source.input.hasIndex(videoIndex) { source.knownKeyframes = keyframes }
        return source
    }

    /// The frame of (`after`, `through`] that scores highest when every frame from `after` on is decoded, if it
    /// reaches the threshold.
    static func closer(
        _ source: FrameSource, after: Double, through: Double, _ frameDuration: Double, threshold: Double
    ) throws(MediaError) -> SceneCut? {
        // From the frame before `after` (its MAFD is the first score's reference): on from the last look when that
        // stopped before it in the same GOP, else from the keyframe at or before it.
        let from = after - 1.5 * frameDuration
        guard source.position(at: from, frameDuration: frameDuration) else { return nil }
        // Up to there only the frames others refer to: in a long GOP a cut can be hundreds of frames past the
        // keyframe, and decoding all of them made a second look cost more than scdet's whole pass.
        source.referenceOnlyBefore = after - 2 * frameDuration
        source.handOnFrom = from
        func collect() throws(MediaError) -> [(time: Double, thumb: [UInt8])] {
            var frames: [(time: Double, thumb: [UInt8])] = []
            try source.frames { (thumb, time) throws(MediaError) -> Bool in
                frames.append((time, thumb))
                return time < through + 0.5 * frameDuration
            }
            return frames
        }
        var frames = try collect()
        // A container without an index (MPEG-TS) seeks by estimate, often to a frame that is no keyframe, whose
        // pictures decode from missing references: `lookSource` hands nothing on after a seek until a keyframe.
        // When that keyframe came after the frame before `after`, seek further back.
        var earlier = 0.0
        while frames.first.map({ $0.time > after - frameDuration / 2 }) ?? true, source.droppedSinceSeek > 0,
            earlier < 32, from - earlier > 0
        {
            earlier = max(1, 2 * earlier)
            guard source.seek(to: max(0, from - earlier)) else { break }
            frames = try collect()
        }
        let changes = frames.indices.dropFirst().map { i in
            (time: frames[i].time, mafd: ScoreState.mafd(frames[i].thumb, frames[i - 1].thumb))
        }
        return strongest(changes, after: after, through: through, frameDuration, threshold: threshold)
    }

    /// The frame of (`after`, `through`] that scores highest, if it reaches the threshold, given each frame's MAFD
    /// against the one shown before it, in order, from the frame after the first decoded.
    static func strongest(
        _ changes: [(time: Double, mafd: Double)], after: Double, through: Double, _ frameDuration: Double,
        threshold: Double
    ) -> SceneCut? {
        var best: SceneCut?
        var previousMAFD = 0.0
        for (time, mafd) in changes {
            let score = ScoreState.score(mafd: mafd, steps: 1, previousMAFD: previousMAFD, previousSteps: 1)
            previousMAFD = mafd
            guard time > after + frameDuration / 4, time <= through + frameDuration / 4, score >= threshold,
                score > best?.score ?? 0
            else { continue }
            best = SceneCut(time: time, score: (score * 1000).rounded() / 1000)
        }
        return best
    }
}
