import CFFmpeg
import FoundationEssentials
import ReelSupport

/// Measuring a file's frames in stretches decoded at once, one decoder and one thread each.
///
/// A decoder's own frame threads scale poorly on the reference frames scene detection decodes: each waits on the
/// one before it (on the 10-minute sample, two cores were 71 % busy). Stretches that start at keyframes depend on
/// nothing before them, so each gets a single-threaded decoder of its own. Every stretch after the first starts
/// on a keyframe and measures from the frame after it, so that frame is measured against the same previous frame
/// as in one pass (where the container cannot name the keyframe, decoding starts `warmUp` seconds early); and
/// every stretch before the last decodes one frame past its end, which must measure exactly as the next
/// stretch's first frame does. When it does not (an open GOP that decodes
/// differently after a seek, an imprecise seek), frames come out of time order, or anything fails, the caller
/// measures the file in one pass.
extension SceneDetector {
    /// Seconds decoded before a stretch's first frame.
    static let warmUp = 1.0

    /// How many stretches to measure `duration` seconds in: one per core, each at least 20 s long.
    static func automaticSegments(duration: Double?) -> Int {
        guard let duration, duration.isFinite, duration > 0 else { return 1 }
        return max(1, min(ProcessInfo.processInfo.activeProcessorCount, Int(duration / 20)))
    }

    /// Where the stream starts and how long it lasts, in seconds, when the container says.
    static func timeRange(_ input: InputFile, _ videoIndex: Int) -> (start: Double, duration: Double)? {
        let stream = input.stream(videoIndex).pointee
        let timeBase = Rational(stream.time_base)
        let start = stream.start_time == reel_av_nopts_value() ? 0 : timeBase.times(stream.start_time).seconds
        if stream.duration > 0 { return (start, timeBase.times(stream.duration).seconds) }
        let total = input.context.pointee.duration
        guard total > 0 else { return nil }
        return (start, Double(total) / Double(reel_av_time_base()))
    }

    /// One stretch's measures, the time of the first frame its decoder gave, and the frame after its end.
    struct Segment: Sendable {
        var measures: [FrameMeasure] = []
        var firstDecoded: Double?
        var next: FrameMeasure?
        /// Frames came out in time order (where stretches meet is decided by time).
        var ordered = true
        /// The second looks its cuts across skipped frames need, made on its thread (`PassLooks`, `decodeLooks`).
        var looks: [Look: SceneCut?] = [:]
        var answeredInPass = 0
        /// The keyframes its pass read, for the looks its pass could not answer.
        var keyframes = KeyframeTable()
    }

    /// The stretches' measures as one pass would give them, and the second looks they made.
    struct Joined {
        var measures: [FrameMeasure]
        var looks: [Look: SceneCut?]
        /// Looks answered from the frames the stretches decoded while measuring (`PassLooks`).
        var answeredInPass = 0
    }

    /// The measures of every reference frame, in order, decoded in `count` stretches at once, with the second
    /// looks each stretch's cuts need (from `frameDuration`, the stream's); `nil` when the stretches do not join
    /// exactly (then one pass must do). Each stretch after the first starts on the keyframe at or before its share
    /// of the file (`snapToKeyframes`), or else `warmUp` seconds before it.
    func measureInSegments(
        _ videoIndex: Int, count: Int, frameDuration: Double, snapToKeyframes: Bool = true, warmUp: Double = warmUp
    ) -> Joined? {
        guard count > 1, let range = Self.timeRange(input, videoIndex) else { return nil }
        var bounds = (0...count).map { range.start + range.duration * Double($0) / Double(count) }
        var starts = bounds.map { $0 - warmUp }
        // Where the container keeps no index, a stretch seeks to its keyframe's byte (`KeyframeTable`).
        var startBytes = [Int64?](repeating: nil, count: count + 1)
        if snapToKeyframes, let probe = try? InputFile(path: input.path) {
            let indexed = probe.hasIndex(videoIndex)
            for index in 1..<count {
                guard
                    let keyframe = Self.keyframe(
                        probe, videoIndex, near: bounds[index], within: bounds[index - 1], bounds[index + 1],
                        indexed: indexed)
                else { continue }
                bounds[index] = keyframe.time
                starts[index] = keyframe.time
                if !indexed { startBytes[index] = keyframe.position }
            }
        }
        // A file of fewer keyframes than stretches: one pass.
        guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else { return nil }
        let (path, width, edges, from, threshold, bytes) = (
            input.path, analysisWidth, bounds, starts, threshold, startBytes
        )
        let results = SegmentResults(count: count)
        @Sendable func stretch(_ index: Int, _ file: () throws(MediaError) -> InputFile) -> Result<Segment, MediaError>
        {
            Result { () throws(MediaError) -> Segment in
                var looks = PassLooks(threshold: threshold, frameDuration: frameDuration)
                var segment = try Self.measure(
                    try file(), videoIndex, width: width, after: index == 0 ? nil : edges[index],
                    through: index == count - 1 ? nil : edges[index + 1], decodingFrom: index == 0 ? nil : from[index],
                    startByte: bytes[index], looks: &looks)
                segment.looks = looks.answered
                segment.answeredInPass = looks.answered.count
                try Self.decodeLooks(
                    looks.left, into: &segment.looks, path: path, videoIndex, width: width, threshold: threshold,
                    keyframes: segment.keyframes)
                return segment
            }
        }
        for index in 1..<count {
            startThread(name: "reel.scenes") {
                results.set(index, stretch(index) { () throws(MediaError) in try InputFile(path: path) })
            }
        }
        // The first stretch here, on the file already open.
        results.set(0, stretch(0) { () throws(MediaError) in input })
        guard let segments = try? results.wait().map({ try $0.get() }),
            let measures = Self.join(segments, bounds: bounds)
        else { return nil }
        return Joined(
            measures: measures, looks: segments.reduce(into: [:]) { $0.merge($1.looks) { a, _ in a } },
            answeredInPass: segments.reduce(0) { $0 + $1.answeredInPass })
    }

    /// The second looks a stretch's pass could not answer (`PassLooks.left`, in order), made on one more opening
    /// of the file, each going on from the one before where it can. Whether a cut is kept depends on the cuts kept
    /// before it (`minSceneSeconds`), which a stretch cannot know, so every cut across skipped frames is looked at;
    /// the first measure, whose previous frame another stretch holds, is left to the scorer, as is any look whose
    /// frame duration here differs from the one-pass scorer's (the key includes it).
    static func decodeLooks(
        _ questions: [Look], into found: inout [Look: SceneCut?], path: String, _ videoIndex: Int, width: Int,
        threshold: Double, keyframes: KeyframeTable
    ) throws(MediaError) {
        guard !questions.isEmpty else { return }
        let source = try lookSource(path, videoIndex, width: width, keyframes: keyframes)
        for look in questions {
            found[look] = .some(
                try closer(
                    source, after: look.after, through: look.through, look.frameDuration, threshold: threshold))
        }
    }

    /// The stretches' measures as one, if they join exactly: each stretch after the first decoded a frame at or
    /// before its start (so its first measure has the previous frame of one pass), frames came in time order, and
    /// the frame each stretch decoded past its end measures exactly as the next stretch's first.
    static func join(_ segments: [Segment], bounds: [Double]) -> [FrameMeasure]? {
        for index in segments.indices.dropFirst() {
            let segment = segments[index]
            if segment.measures.isEmpty && segments[index - 1].next == nil { continue }
            guard segment.ordered, segments[index - 1].ordered, let first = segment.firstDecoded,
                first <= bounds[index], segments[index - 1].next == segment.measures.first
            else { return nil }
        }
        return segments.flatMap(\.measures)
    }

    /// Where a stretch that starts near `seconds` can begin decoding: the keyframe at or before `seconds` (and
    /// after `lower`), read from the video packets (no decoding), and the byte its packet starts at. A container
    /// with an index seeks to it. One without (`indexed` false: MPEG-TS) seeks by estimate, often past it, so the
    /// packets are read from 1, 2, 4 … seconds earlier until one is found; failing that, the first keyframe after
    /// `seconds` and before `upper`. `nil` when there is none or the container cannot say.
    static func keyframe(
        _ input: InputFile, _ videoIndex: Int, near seconds: Double, within lower: Double, _ upper: Double,
        indexed: Bool
    ) -> (time: Double, position: Int64)? {
        var earlier = 0.0
        while true {
            guard input.seekBackward(videoIndex, to: max(lower, seconds - earlier)) else { return nil }
            let (before, after) = keyframes(input, videoIndex, around: seconds, before: upper, firstOnly: indexed)
            if let before, before.time > lower { return before }
            if indexed { return after.flatMap { $0.time < upper ? $0 : nil } }
            guard seconds - earlier > lower, earlier < 64 else { return after }
            earlier = max(1, 2 * earlier)
        }
    }

    /// The last keyframe shown at or before `seconds` and the first after it (before `limit`), reading video
    /// packets from where the input stands; `firstOnly` stops at the first video packet, keyframe or not.
    private static func keyframes(
        _ input: InputFile, _ videoIndex: Int, around seconds: Double, before limit: Double, firstOnly: Bool
    ) -> (before: (time: Double, position: Int64)?, after: (time: Double, position: Int64)?) {
        let timeBase = Rational(input.stream(videoIndex).pointee.time_base)
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var before: (time: Double, position: Int64)?
        while av_read_frame(input.context, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard Int(packet!.pointee.stream_index) == videoIndex else { continue }
            let pts = packet!.pointee.pts
            guard pts != reel_av_nopts_value() else { return (before, nil) }
            let time = timeBase.times(pts).seconds
            if packet!.pointee.flags & AV_PKT_FLAG_KEY != 0 {
                let keyframe = (time: time, position: packet!.pointee.pos)
                // The seek goes by decoding time: the keyframe it lands on may show a little after `seconds`.
                if firstOnly || time > seconds { return (before, keyframe) }
                before = keyframe
            }
            if firstOnly || time >= limit { break }
        }
        return (before, nil)
    }

    /// The measures of the frames after `after` through `through` (from the start without `after`, to the end
    /// without `through`), decoding from the keyframe at or before `decodingFrom`, and of the first frame after
    /// `through`: from the byte `startByte` when given (a keyframe's, in a container without an index).
    static func measure(
        _ input: InputFile, _ videoIndex: Int, width: Int, after: Double?, through: Double?, decodingFrom: Double?,
        startByte: Int64? = nil, looks: inout PassLooks
    ) throws(MediaError) -> Segment {
        let source = try FrameSource(input, videoIndex, width: width, skipping: AVDISCARD_NONREF, threads: 1)
        if let decodingFrom, !source.seek(to: decodingFrom, byte: startByte) {
            throw MediaError(.unsupported, "cannot seek to \(decodingFrom) s", path: input.path)
        }
        source.likelyCuts = LikelyCuts(frameDuration: looks.frameDuration)
        var measurer = FrameMeasurer()
        var segment = Segment()
        try source.frames { (thumb, time, isMeasured) throws(MediaError) -> Bool in
            guard isMeasured else {
                looks.decoded(thumb, time: time, measure: nil)
                return true
            }
            let measured = measurer.measure(thumb, time: time)
            looks.decoded(thumb, time: time, measure: measured)
            if let last = segment.measures.last?.time, time <= last { segment.ordered = false }
            if segment.firstDecoded == nil { segment.firstDecoded = time }
            if let through, time > through {
                segment.next = measured
                return false
            }
            if time > after ?? -.infinity {
                segment.measures.append(measured)
                try looks.measured(measured, source: source)
            }
            return true
        }
        looks.finish(source)
        segment.keyframes = source.keyframes
        return segment
    }
}

/// The stretches' results as their threads finish, and a wait for all of them.
private final class SegmentResults: @unchecked Sendable {
    private let condition = ConditionLock()
    private var results: [Result<SceneDetector.Segment, MediaError>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<SceneDetector.Segment, MediaError>) {
        condition.lock()
        results[index] = result
        condition.broadcast()
        condition.unlock()
    }

    /// Every result, once all are in.
    func wait() -> [Result<SceneDetector.Segment, MediaError>] {
        condition.lock()
        defer { condition.unlock() }
        while results.contains(where: { $0 == nil }) { condition.wait() }
        return results.map { $0! }
    }
}
