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

/// Decodes the video (libavcodec, with the codec's own threads), scales each frame's luma down (libswscale) and
/// scores each frame against the previous one as FFmpeg's `scdet` does: the mean absolute frame difference
/// (MAFD, percent of full scale), and the score min(MAFD, |MAFD − previous MAFD|). A frame whose score reaches the
/// threshold is a cut, unless it comes sooner than `minSceneSeconds` after the last one.
struct SceneDetector {
    let input: InputFile
    let threshold: Double
    let minSceneSeconds: Double
    /// Width of the luma thumbnail compared (height keeps the aspect).
    let analysisWidth = 160

    func run() throws(MediaError) -> SceneReport {
        guard let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(.unsupported, "no video stream", path: input.path)
        }
        let stream = input.stream(videoIndex)
        let timeBase = Rational(stream.pointee.time_base)
        // Scores compare 160-pixel luma thumbnails: the deblocking filter changes nothing they can see, so skip
        // it, and allow the decoder's non-bit-exact shortcuts.
        let decoder = try Decoder(input, stream: videoIndex) { codec in
            codec.pointee.thread_type = 1 | 2  // FF_THREAD_FRAME | FF_THREAD_SLICE
            codec.pointee.skip_loop_filter = AVDISCARD_ALL
            codec.pointee.flags2 |= 1  // AV_CODEC_FLAG2_FAST
        }

        var packet = av_packet_alloc()
        var frame = av_frame_alloc()
        defer {
            av_packet_free(&packet)
            av_frame_free(&frame)
        }
        var state = ScoreState(threshold: threshold, minSceneSeconds: minSceneSeconds)
        var scaler: OpaquePointer?
        defer { sws_freeContext(scaler) }
        var thumb: [UInt8] = []
        var thumbWidth = 0, thumbHeight = 0

        func take(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            let f = frame.pointee
            if scaler == nil {
                thumbWidth = min(analysisWidth, Int(f.width))
                thumbHeight = max(1, Int((Double(f.height) * Double(thumbWidth) / Double(max(1, f.width))).rounded()))
                scaler = sws_getContext(
                    f.width, f.height, AVPixelFormat(f.format), Int32(thumbWidth), Int32(thumbHeight),
                    AV_PIX_FMT_GRAY8, 1 /* SWS_FAST_BILINEAR */, nil, nil, nil)
                guard scaler != nil else {
                    throw MediaError(.unsupported, "cannot scale pixel format \(f.format)", path: input.path)
                }
                thumb = [UInt8](repeating: 0, count: thumbWidth * thumbHeight)
            }
            thumb.withUnsafeMutableBufferPointer { buffer in
                let destination: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
                let stride: [Int32] = [Int32(thumbWidth), 0, 0, 0]
                _ = scale(scaler!, frame, into: destination, strides: stride)
            }
            state.add(thumb, time: timeBase.times(presentationTicks(frame) ?? 0).seconds)
        }

        while true {
            let rc = av_read_frame(input.context, packet)
            if rc == reel_averror_eof() { break }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: input.path) }
            defer { av_packet_unref(packet) }
            guard Int(packet!.pointee.stream_index) == videoIndex else { continue }
            try decoder.decode(packet, into: frame!, path: input.path, take)
        }
        try decoder.decode(nil, into: frame!, path: input.path, take)
        return state.report()
    }
}

/// The scdet arithmetic and the scene bookkeeping, apart from FFmpeg so it can be reasoned about alone.
struct ScoreState {
    let threshold: Double
    let minSceneSeconds: Double
    private var previous: [UInt8]?
    private var previousMAFD = 0.0
    private(set) var cuts: [SceneCut] = []
    private var scenes: [SceneSummary] = []
    private var sceneStart: Double?
    private var lumaSum = 0.0, motionSum = 0.0, frames = 0
    private var lastTime = 0.0, frameDuration = 0.0

    init(threshold: Double, minSceneSeconds: Double) {
        self.threshold = threshold
        self.minSceneSeconds = minSceneSeconds
    }

    mutating func add(_ luma: [UInt8], time: Double) {
        var sum = 0
        for v in luma { sum += Int(v) }
        let meanLuma = Double(sum) / Double(max(1, luma.count)) / 255
        var mafd = 0.0
        if let previous, previous.count == luma.count {
            var sad = 0
            for i in 0..<luma.count { sad += abs(Int(luma[i]) - Int(previous[i])) }
            mafd = Double(sad) * 100 / Double(luma.count) / 256
            let score = min(mafd, abs(mafd - previousMAFD))
            let sinceLast = time - (cuts.last?.time ?? sceneStart ?? time)
            if score >= threshold, sinceLast >= minSceneSeconds {
                closeScene(at: time)
                cuts.append(SceneCut(time: time, score: (score * 1000).rounded() / 1000))
                sceneStart = time
            }
        }
        if sceneStart == nil { sceneStart = time }
        if time > lastTime { frameDuration = time - lastTime }
        lastTime = time
        previousMAFD = mafd
        previous = luma
        lumaSum += meanLuma
        motionSum += mafd / 100
        frames += 1
    }

    private mutating func closeScene(at end: Double) {
        guard let start = sceneStart, frames > 0 else { return }
        scenes.append(
            SceneSummary(
                start: start, end: end, meanLuma: (lumaSum / Double(frames) * 1000).rounded() / 1000,
                motion: (motionSum / Double(frames) * 1000).rounded() / 1000))
        lumaSum = 0
        motionSum = 0
        frames = 0
    }

    mutating func report() -> SceneReport {
        closeScene(at: lastTime + frameDuration)
        return SceneReport(cuts: cuts, scenes: scenes)
    }
}
