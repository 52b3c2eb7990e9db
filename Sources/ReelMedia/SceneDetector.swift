import CFFmpeg
import Foundation

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
/// 2. A cut found across skipped frames is looked at again on a second opening of the file: from the keyframe
///    before it, every frame is decoded up to the cut; the cut moves to the frame that scores highest, or is
///    dropped when none reaches the threshold (content that changes fast but not linearly, which the scaled MAFD
///    mistakes for a cut). Cuts between consecutive frames — on keyframes, P-frames, reference B-frames — need
///    nothing more.
///
/// The first pass's decoding is the cost, so a long file is decoded in stretches at once, one per core, each by a
/// single-threaded decoder (`SceneDetector+Segments`); they join into exactly the measures of one pass.
struct SceneDetector {
    let input: InputFile
    let threshold: Double
    let minSceneSeconds: Double
    /// Width of the luma thumbnail compared (height keeps the aspect).
    let analysisWidth = 160

    /// Finds the cuts, measuring the frames in `segments` stretches decoded at once (`SceneDetector+Segments`;
    /// by default one per core for files of 40 s and more) or in one pass.
    func run(segments: Int? = nil) throws(MediaError) -> SceneReport {
        guard let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(.unsupported, "no video stream", path: input.path)
        }
        let stream = input.stream(videoIndex)
        let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        var scorer = Scorer(
            detector: self, videoIndex: videoIndex,
            frameDuration: rate.num > 0 ? Double(rate.den) / Double(rate.num) : 0)
        let count = segments ?? Self.automaticSegments(duration: Self.timeRange(input, videoIndex)?.duration)
        if count > 1, let measures = measureInSegments(videoIndex, count: count) {
            for frame in measures { try scorer.take(frame) }
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
        return scorer.state.report()
    }

    /// Scores measured frames in order: the frame steps between decoded frames, and the second look at a cut found
    /// across skipped frames.
    struct Scorer {
        let detector: SceneDetector
        let videoIndex: Int
        var frameDuration: Double
        var state: ScoreState
        var last: Double?
        /// Cuts across skipped frames are confirmed on a second opening of the file.
        var second: FrameSource?

        init(detector: SceneDetector, videoIndex: Int, frameDuration: Double) {
            self.detector = detector
            self.videoIndex = videoIndex
            self.frameDuration = frameDuration
            state = ScoreState(threshold: detector.threshold, minSceneSeconds: detector.minSceneSeconds)
        }

        mutating func take(_ frame: FrameMeasure) throws(MediaError) {
            let time = frame.time
            var steps = 1
            if let last, time > last {
                if frameDuration <= 0 || time - last < frameDuration * 0.75 { frameDuration = time - last }
                steps = max(1, Int(((time - last) / frameDuration).rounded()))
            }
            last = time
            var second = self.second
            defer { self.second = second }
            let (detector, videoIndex, frameDuration) = (self.detector, self.videoIndex, self.frameDuration)
            try state.add(frame, steps: steps) { after, time throws(MediaError) in
                if second == nil {
                    // Few frames each time: one thread, no frame-threading delay.
                    second = try FrameSource(
                        try InputFile(path: detector.input.path), videoIndex, width: detector.analysisWidth,
                        skipping: AVDISCARD_DEFAULT, threads: 1)
                }
                return try detector.closer(second!, after: after, through: time, frameDuration)
            }
        }
    }

    /// The frame of (`after`, `through`] that scores highest when every frame from `after` on is decoded, if it
    /// reaches the threshold.
    func closer(_ source: FrameSource, after: Double, through: Double, _ frameDuration: Double)
        throws(MediaError) -> SceneCut?
    {
        // From the keyframe at or before the frame before `after`: its MAFD is the first score's reference.
        guard source.seek(to: after - 1.5 * frameDuration) else { return nil }
        // Up to there only the frames others refer to: in a long GOP a cut can be hundreds of frames past the
        // keyframe, and decoding all of them made a second look cost more than scdet's whole pass.
        source.referenceOnlyBefore = after - 2 * frameDuration
        var frames: [(time: Double, thumb: [UInt8])] = []
        try source.frames { (thumb, time) throws(MediaError) -> Bool in
            if time >= after - 1.5 * frameDuration { frames.append((time, thumb)) }
            return time < through + 0.5 * frameDuration
        }
        var best: SceneCut?
        var previousMAFD = 0.0
        for i in frames.indices.dropFirst() {
            let mafd = ScoreState.mafd(frames[i].thumb, frames[i - 1].thumb)
            let score = ScoreState.score(mafd: mafd, steps: 1, previousMAFD: previousMAFD, previousSteps: 1)
            previousMAFD = mafd
            let time = frames[i].time
            guard time > after + frameDuration / 4, time <= through + frameDuration / 4, score >= threshold,
                score > best?.score ?? 0
            else { continue }
            best = SceneCut(time: time, score: (score * 1000).rounded() / 1000)
        }
        return best
    }
}

/// One video stream decoded from where its input stands, as luma thumbnails with their times.
final class FrameSource {
    let input: InputFile
    let videoIndex: Int
    let decoder: Decoder
    let thumbnails: Thumbnails
    let timeBase: Rational
    private var packet = av_packet_alloc()
    private var frame = av_frame_alloc()
    /// While set, a packet shown before this time is decoded only if other frames refer to it (read per packet:
    /// for a decoder without frame threads).
    var referenceOnlyBefore: Double?

    /// `skipping` says which frames the decoder leaves out; `threads` 0 lets it choose.
    init(_ input: InputFile, _ videoIndex: Int, width: Int, skipping: AVDiscard, threads: Int32) throws(MediaError) {
        self.input = input
        self.videoIndex = videoIndex
        timeBase = Rational(input.stream(videoIndex).pointee.time_base)
        thumbnails = Thumbnails(width: width, path: input.path)
        decoder = try Decoder(input, stream: videoIndex) { codec in
            codec.pointee.thread_count = threads
            codec.pointee.thread_type = 1 | 2  // FF_THREAD_FRAME | FF_THREAD_SLICE
            codec.pointee.skip_frame = skipping
            // Thumbnails cannot see the deblocking filter; allow the decoder's non-bit-exact shortcuts.
            codec.pointee.skip_loop_filter = AVDISCARD_ALL
            codec.pointee.flags2 |= 1  // AV_CODEC_FLAG2_FAST
        }
    }

    deinit {
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    /// Moves to the keyframe at or before `seconds` and forgets what the decoder holds; false if it cannot.
    func seek(to seconds: Double) -> Bool {
        guard input.seekBackward(videoIndex, to: seconds) else { return false }
        decoder.flush()
        return true
    }

    /// Hands each decoded frame's thumbnail and time to `body` until it returns false or the stream ends.
    func frames(_ body: ([UInt8], Double) throws(MediaError) -> Bool) throws(MediaError) {
        var going = true
        func take(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            guard going else { return }
            let thumb = try thumbnails.luma(of: frame)
            going = try body(thumb, timeBase.times(presentationTicks(frame) ?? 0).seconds)
        }
        while going {
            let rc = av_read_frame(input.context, packet)
            if rc == reel_averror_eof() { break }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: input.path) }
            defer { av_packet_unref(packet) }
            guard Int(packet!.pointee.stream_index) == videoIndex else { continue }
            if let before = referenceOnlyBefore {
                let pts = packet!.pointee.pts
                let early = pts != reel_av_nopts_value() && timeBase.times(pts).seconds < before
                decoder.context.pointee.skip_frame = early ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            }
            try decoder.decode(packet, into: frame!, path: input.path, take)
        }
        if going { try decoder.decode(nil, into: frame!, path: input.path, take) }
    }
}

/// Gray thumbnails of frames, `width` pixels wide (libswscale, fast bilinear), one scaler for the stream.
final class Thumbnails {
    let width: Int
    let path: String
    private var scaler: OpaquePointer?
    private var size = (width: 0, height: 0)

    init(width: Int, path: String) {
        self.width = width
        self.path = path
    }

    deinit { sws_freeContext(scaler) }

    func luma(of frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) -> [UInt8] {
        let f = frame.pointee
        if scaler == nil {
            let thumbWidth = min(width, Int(f.width))
            size = (
                thumbWidth, max(1, Int((Double(f.height) * Double(thumbWidth) / Double(max(1, f.width))).rounded()))
            )
            scaler = sws_getContext(
                f.width, f.height, AVPixelFormat(f.format), Int32(size.width), Int32(size.height), AV_PIX_FMT_GRAY8,
                1 /* SWS_FAST_BILINEAR */, nil, nil, nil)
            guard scaler != nil else {
                throw MediaError(.unsupported, "cannot scale pixel format \(f.format)", path: path)
            }
        }
        var thumb = [UInt8](repeating: 0, count: size.width * size.height)
        thumb.withUnsafeMutableBufferPointer { buffer in
            let destination: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            let stride: [Int32] = [Int32(size.width), 0, 0, 0]
            _ = scale(scaler!, frame, into: destination, strides: stride)
        }
        return thumb
    }
}
