import CFFmpeg

/// A range of a source to put in a render.
public struct CutRange: Sendable, Codable, Equatable {
    public var source: String
    /// Seconds from the source's start.
    public var start: Double
    public var end: Double

    public init(source: String, start: Double, end: Double) {
        self.source = source
        self.start = start
        self.end = end
    }
}

/// How a render is made.
public enum RenderMode: String, Sendable, Codable, CaseIterable {
    /// Every frame decoded and encoded: each output frame is the source frame the timeline names.
    case exact
    /// Frame-accurate too, re-encoding only from each cut's start to the next keyframe (and from the last
    /// keyframe to the end) and copying the packets between; falls back to `exact` when the source's parameter
    /// sets cannot be matched.
    case smart
    /// Stream copy from the keyframe at or before each cut: fast, approximate (a cut starts early by up to a GOP).
    case keyframe
}

/// The codec of an encoded render.
public enum RenderCodec: String, Sendable, Codable, CaseIterable {
    case h264
    case hevc

    /// The libavcodec encoder used.
    public var encoderName: String { self == .h264 ? "libx264" : "libx265" }
}

/// How to render: mode, codec and quality.
public struct RenderOptions: Sendable, Codable, Equatable {
    public var mode: RenderMode
    public var codec: RenderCodec
    /// Constant rate factor (x264/x265 scale, 0–51; lower is better).
    public var crf: Int
    /// x264/x265 speed preset.
    public var preset: String

    public static let presets = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    ]

    public init(mode: RenderMode = .exact, codec: RenderCodec = .h264, crf: Int = 20, preset: String = "fast") {
        self.mode = mode
        self.codec = codec
        self.crf = crf
        self.preset = preset
    }
}

/// What `render` wrote.
public struct RenderResult: Sendable, Codable, Equatable {
    public var path: String
    /// Seconds of output.
    public var duration: Double
    public var bytes: Int
    /// The mode that made it (`exact` when `smart` fell back).
    public var mode: RenderMode
    /// Video frames written (0 without video).
    public var frames: Int
    /// Why the mode asked for was not used, when it was not.
    public var fallbackReason: String?

    public init(
        path: String, duration: Double, bytes: Int, mode: RenderMode, frames: Int, fallbackReason: String? = nil
    ) {
        self.path = path
        self.duration = duration
        self.bytes = bytes
        self.mode = mode
        self.frames = frames
        self.fallbackReason = fallbackReason
    }
}

/// Checks every cut is a forward range.
func validate(_ cuts: [CutRange], output: String) throws(MediaError) {
    guard !cuts.isEmpty else { throw MediaError(.unsupported, "nothing to render", path: output) }
    for cut in cuts where !(cut.end > cut.start) || cut.start < 0 {
        throw MediaError(.unsupported, "range \(cut.start)–\(cut.end) s is empty or negative", path: cut.source)
    }
}

/// Whether this FFmpeg build can encode `codec` (and AAC audio).
func canEncode(_ codec: RenderCodec) -> Bool {
    avcodec_find_encoder_by_name(codec.encoderName) != nil && avcodec_find_encoder(AV_CODEC_ID_AAC) != nil
}

/// Why `options` cannot render video of `codec` (a codec name as `probe` reports it), or nil when it can:
/// `exact` and `smart` need a decoder for it and an encoder for the output codec, `keyframe` copies packets and
/// needs MP4 to carry it.
public func renderProblem(videoCodec codec: String, options: RenderOptions) -> String? {
    guard let descriptor = avcodec_descriptor_get_by_name(codec) else { return "unknown video codec \(codec)" }
    let id = descriptor.pointee.id
    switch options.mode {
    case .exact, .smart:
        guard avcodec_find_decoder(id) != nil else { return "this FFmpeg build cannot decode \(codec) video" }
        return renderProblem(options: options)
    case .keyframe:
        let mp4 = av_guess_format("mp4", nil, nil)
        return avformat_query_codec(mp4, id, 0 /* FF_COMPLIANCE_NORMAL */) == 1
            ? nil : "MP4 cannot carry \(codec) video copied as it is (render.mode keyframe); use exact"
    }
}

/// Why this FFmpeg build cannot make renders with `options` whatever the source (an encoder it lacks), or nil.
public func renderProblem(options: RenderOptions) -> String? {
    guard options.mode != .keyframe, !canEncode(options.codec) else { return nil }
    return "this FFmpeg build has no \(options.codec.encoderName) encoder for \(options.codec.rawValue) output"
}
