import CFFmpeg

/// An AAC encoder fed decoded audio of any format, rate and layout at sample positions of the output: each frame
/// is converted (libswresample) to the encoder's planar float at the output rate and placed where the timeline
/// puts it — overlaps dropped, gaps and missing audio filled with silence, anything past a segment's end cut —
/// so audio stays in sync with the video across every seam. Samples pass through a FIFO into frames of the
/// encoder's size.
final class AudioEncoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let path: String
    private let fifo: OpaquePointer
    private var resampler: OpaquePointer?
    private var resamplerInput: (format: Int32, rate: Int32, layout: AVChannelLayout)?
    private var converted: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    private var outFrame: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    private var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
    /// Output samples placed so far (the FIFO's end, in samples from the output's start).
    private(set) var placed: Int64 = 0
    private var encoded: Int64 = 0
    var sampleRate: Int32 { context.pointee.sample_rate }
    private var channels: Int32 { context.pointee.ch_layout.nb_channels }

    init(sampleRate: Int32, layout: AVChannelLayout, globalHeader: Bool, path: String) throws(MediaError) {
        self.path = path
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_AAC) else {
            throw MediaError(.unsupported, "this FFmpeg build has no AAC encoder", path: path)
        }
        guard let context = avcodec_alloc_context3(codec) else {
            throw MediaError(.ioError, "cannot allocate the AAC encoder", path: path)
        }
        self.context = context
        context.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        context.pointee.sample_rate = sampleRate
        var layout = layout
        if layout.order != AV_CHANNEL_ORDER_NATIVE {
            let count = layout.nb_channels
            layout = AVChannelLayout()
            av_channel_layout_default(&layout, count)
        }
        av_channel_layout_copy(&context.pointee.ch_layout, &layout)
        context.pointee.time_base = AVRational(num: 1, den: sampleRate)
        context.pointee.bit_rate = Int64(64_000 * min(2, Int(layout.nb_channels)))
        if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        let opened = avcodec_open2(context, codec, nil)
        guard opened >= 0 else { throw MediaError.ffmpeg(opened, "cannot open the AAC encoder", path: path) }
        guard let fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, layout.nb_channels, 4096) else {
            throw MediaError(.ioError, "cannot allocate an audio buffer", path: path)
        }
        self.fifo = fifo
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&doomed)
        av_audio_fifo_free(fifo)
        swr_free(&resampler)
        av_frame_free(&converted)
        av_frame_free(&outFrame)
        av_packet_free(&packet)
    }

    /// Places `frame` so that its first sample lands at output sample `position`, keeping only what falls in
    /// [`placed`, `limit`).
    func place(
        _ frame: UnsafeMutablePointer<AVFrame>, at position: Int64, limit: Int64,
        write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        let converted = try convert(frame)
        defer { av_frame_unref(converted) }
        let count = Int64(converted.pointee.nb_samples)
        // A gap of more than a couple of samples (rounding) is silence; an overlap is dropped.
        if position > placed + 2 { try silence(until: min(position, limit)) }
        let from = max(position, placed)
        let to = min(position + count, limit)
        guard to > from else { return try drain(write: write) }
        let skip = Int(from - position)
        var planes = (0..<Int(channels)).map { channel -> UnsafeMutableRawPointer? in
            UnsafeMutableRawPointer(converted.pointee.extended_data[channel]!).advanced(by: skip * 4)
        }
        let written = av_audio_fifo_write(fifo, &planes, Int32(to - from))
        guard written >= 0 else { throw MediaError.ffmpeg(written, "cannot buffer audio", path: path) }
        placed = to
        try drain(write: write)
    }

    /// Fills with silence up to output sample `end`.
    func silence(until end: Int64) throws(MediaError) {
        while placed < end {
            let count = Int32(min(end - placed, 4096))
            var zeros = [Float](repeating: 0, count: Int(count))
            let written = zeros.withUnsafeMutableBytes { bytes -> Int32 in
                var planes = [UnsafeMutableRawPointer?](repeating: bytes.baseAddress, count: Int(channels))
                return av_audio_fifo_write(fifo, &planes, count)
            }
            guard written >= 0 else { throw MediaError.ffmpeg(written, "cannot buffer audio", path: path) }
            placed += Int64(count)
        }
    }

    /// Pads to `end` and encodes what fills whole frames.
    func endSegment(at end: Int64, write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void)
        throws(MediaError)
    {
        try silence(until: end)
        try drain(write: write)
        // Each segment resamples afresh: what the resampler holds belongs to the cut that ended.
        swr_free(&resampler)
        resamplerInput = nil
    }

    /// Encodes the rest (a short last frame is allowed) and drains the encoder.
    func finish(write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void) throws(MediaError) {
        try drain(write: write, all: true)
        try send(nil, write: write)
    }

    private func drain(write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void, all: Bool = false)
        throws(MediaError)
    {
        let size = context.pointee.frame_size > 0 ? context.pointee.frame_size : 1024
        while av_audio_fifo_size(fifo) >= size || (all && av_audio_fifo_size(fifo) > 0) {
            let count = min(size, av_audio_fifo_size(fifo))
            let frame = outFrame!
            frame.pointee.nb_samples = count
            frame.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
            frame.pointee.sample_rate = sampleRate
            av_channel_layout_copy(&frame.pointee.ch_layout, &context.pointee.ch_layout)
            let allocated = av_frame_get_buffer(frame, 0)
            guard allocated >= 0 else { throw MediaError.ffmpeg(allocated, "cannot allocate audio", path: path) }
            defer { av_frame_unref(frame) }
            let read = frame.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) {
                av_audio_fifo_read(fifo, $0, count)
            }
            guard read == count else { throw MediaError.ffmpeg(read, "cannot read buffered audio", path: path) }
            frame.pointee.pts = encoded
            encoded += Int64(count)
            try send(frame, write: write)
        }
    }

    private func send(
        _ frame: UnsafeMutablePointer<AVFrame>?, write: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        try encode(context, frame, into: packet!, what: "audio", path: path, write)
    }

    /// `frame` as planar float at the output rate and layout.
    private func convert(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) -> UnsafeMutablePointer<AVFrame> {
        var inLayout = frame.pointee.ch_layout
        if inLayout.order == AV_CHANNEL_ORDER_UNSPEC || inLayout.nb_channels == 0 {
            let count = max(1, inLayout.nb_channels)
            inLayout = AVChannelLayout()
            av_channel_layout_default(&inLayout, count)
        }
        let format = frame.pointee.format
        let rate = frame.pointee.sample_rate
        if let current = resamplerInput,
            current.format != format || current.rate != rate || !Self.same(current.layout, inLayout)
        {
            swr_free(&resampler)
        }
        if resampler == nil {
            let rc = swr_alloc_set_opts2(
                &resampler, &context.pointee.ch_layout, AV_SAMPLE_FMT_FLTP, sampleRate, &inLayout,
                AVSampleFormat(rawValue: format), rate, 0, nil)
            guard rc >= 0, swr_init(resampler) >= 0 else {
                throw MediaError(.unsupported, "cannot convert audio of \(rate) Hz", path: path)
            }
            resamplerInput = (format, rate, inLayout)
        }
        let converted = converted!
        converted.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        converted.pointee.sample_rate = sampleRate
        av_channel_layout_copy(&converted.pointee.ch_layout, &context.pointee.ch_layout)
        converted.pointee.nb_samples = max(1, swr_get_out_samples(resampler, frame.pointee.nb_samples))
        let allocated = av_frame_get_buffer(converted, 0)
        guard allocated >= 0 else { throw MediaError.ffmpeg(allocated, "cannot allocate audio", path: path) }
        let made = converted.pointee.extended_data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8)
        { out in
            frame.pointee.extended_data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { input in
                swr_convert(resampler, out, converted.pointee.nb_samples, input, frame.pointee.nb_samples)
            }
        }
        guard made >= 0 else {
            av_frame_unref(converted)
            throw MediaError.ffmpeg(made, "cannot convert audio", path: path)
        }
        converted.pointee.nb_samples = made
        return converted
    }

    private static func same(_ a: AVChannelLayout, _ b: AVChannelLayout) -> Bool {
        var a = a
        var b = b
        return av_channel_layout_compare(&a, &b) == 0
    }
}
