import CFFmpeg

/// What a video encoder makes: codec, picture and rate settings.
struct VideoEncoding {
    var codec: RenderCodec
    var width: Int32
    var height: Int32
    var sampleAspectRatio: AVRational
    var timeBase: AVRational
    var frameRate: AVRational
    var crf: Int
    var preset: String
    /// Colour description copied from the source.
    var colorRange: AVColorRange = AVCOL_RANGE_UNSPECIFIED
    var colorPrimaries: AVColorPrimaries = AVCOL_PRI_UNSPECIFIED
    var colorTransfer: AVColorTransferCharacteristic = AVCOL_TRC_UNSPECIFIED
    var colorSpace: AVColorSpace = AVCOL_SPC_UNSPECIFIED
    /// Encoder-private options (x264-params and the like).
    var privateOptions: [String: String] = [:]
}

/// A libavcodec video encoder (libx264, libx265) fed decoded frames of any size and pixel format: each is scaled
/// (libswscale) to the encoder's 8-bit 4:2:0 picture. Frames are given with their output timestamps; each frame's
/// duration is the distance to the next one (or to the end of its segment), and the packets carry it, so the
/// output keeps the source's timing — variable frame rates included — and ends where the timeline ends.
final class VideoEncoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let path: String
    private var scaler: OpaquePointer?
    private var scaled: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    private var pending: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    private var hasPending = false
    private var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
    private var durations: [Int64: Int64] = [:]
    private(set) var lastPTS = Int64.min
    /// Frames handed to the encoder.
    private(set) var frames = 0

    init(_ settings: VideoEncoding, globalHeader: Bool, path: String) throws(MediaError) {
        self.path = path
        let name = settings.codec.encoderName
        guard let codec = avcodec_find_encoder_by_name(name) else {
            throw MediaError(.unsupported, "this FFmpeg build has no \(name) encoder", path: path)
        }
        guard let context = avcodec_alloc_context3(codec) else {
            throw MediaError(.ioError, "cannot allocate the \(name) encoder", path: path)
        }
        self.context = context
        context.pointee.width = settings.width
        context.pointee.height = settings.height
        context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        context.pointee.sample_aspect_ratio = settings.sampleAspectRatio
        context.pointee.time_base = settings.timeBase
        context.pointee.framerate = settings.frameRate
        context.pointee.color_range = settings.colorRange
        context.pointee.color_primaries = settings.colorPrimaries
        context.pointee.color_trc = settings.colorTransfer
        context.pointee.colorspace = settings.colorSpace
        context.pointee.thread_count = 0
        if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "crf", String(settings.crf), 0)
        av_dict_set(&options, "preset", settings.preset, 0)
        // x265 reports to stderr at info level unless told otherwise; Reel reports failures itself.
        if settings.codec == .hevc { av_dict_set(&options, "x265-params", "log-level=error", 0) }
        for (key, value) in settings.privateOptions { av_dict_set(&options, key, value, 0) }
        let opened = avcodec_open2(context, codec, &options)
        guard opened >= 0 else { throw MediaError.ffmpeg(opened, "cannot open the \(name) encoder", path: path) }
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&doomed)
        sws_freeContext(scaler)
        av_frame_free(&scaled)
        av_frame_free(&pending)
        av_packet_free(&packet)
    }

    /// Queues `frame` at `pts` (encoder time base); the frame before it is encoded now that its duration is known.
    func add(
        _ frame: UnsafeMutablePointer<AVFrame>, pts: Int64,
        write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        let pts = max(pts, lastPTS + 1)
        if hasPending { try encodePending(until: pts, write: write) }
        let ready = try picture(frame)
        let ref = av_frame_ref(pending, ready)
        guard ref >= 0 else { throw MediaError.ffmpeg(ref, "cannot keep a frame", path: path) }
        if ready == scaled { av_frame_unref(scaled) }
        pending!.pointee.pts = pts
        pending!.pointee.pict_type = AV_PICTURE_TYPE_NONE
        hasPending = true
        lastPTS = pts
    }

    /// Ends a segment at `end`: the last frame lasts until then.
    func endSegment(
        at end: Int64, write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        if hasPending { try encodePending(until: end, write: write) }
    }

    /// Drains the encoder.
    func finish(write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void) throws(MediaError) {
        try send(nil, write: write)
    }

    private func encodePending(
        until next: Int64, write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        let frame = pending!
        durations[frame.pointee.pts] = max(1, next - frame.pointee.pts)
        hasPending = false
        frames += 1
        defer { av_frame_unref(frame) }
        try send(frame, write: write)
    }

    private func send(
        _ frame: UnsafeMutablePointer<AVFrame>?, write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        try encode(context, frame, into: packet!, what: "a frame", path: path) { packet throws(MediaError) in
            if let duration = durations.removeValue(forKey: packet.pointee.pts) { packet.pointee.duration = duration }
            try write(packet)
        }
    }

    /// `frame` itself when it already has the encoder's size and format, else its scaled copy.
    private func picture(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) -> UnsafeMutablePointer<AVFrame> {
        let format = AVPixelFormat(rawValue: frame.pointee.format)
        if format == context.pointee.pix_fmt, frame.pointee.width == context.pointee.width,
            frame.pointee.height == context.pointee.height
        {
            return frame
        }
        scaler = sws_getCachedContext(
            scaler, frame.pointee.width, frame.pointee.height, format, context.pointee.width, context.pointee.height,
            context.pointee.pix_fmt, SWS_BICUBIC, nil, nil, nil)
        guard let scaler, let scaled else { throw MediaError(.unsupported, "cannot convert the picture", path: path) }
        scaled.pointee.width = context.pointee.width
        scaled.pointee.height = context.pointee.height
        scaled.pointee.format = context.pointee.pix_fmt.rawValue
        let allocated = av_frame_get_buffer(scaled, 0)
        guard allocated >= 0 else { throw MediaError.ffmpeg(allocated, "cannot allocate a picture", path: path) }
        let rc = withUnsafePointer(to: &scaled.pointee.data) { planes in
            withUnsafePointer(to: &scaled.pointee.linesize) { lines in
                scale(
                    scaler, frame,
                    into: UnsafeRawPointer(planes).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self),
                    strides: UnsafeRawPointer(lines).assumingMemoryBound(to: Int32.self))
            }
        }
        guard rc > 0 else { throw MediaError.ffmpeg(rc, "cannot convert the picture", path: path) }
        return scaled
    }
}
