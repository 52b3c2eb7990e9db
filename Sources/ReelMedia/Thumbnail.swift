import CFFmpeg

extension MediaEngine {
    /// A small JPEG of the frame shown at `seconds` in `path` (a file, or the store's presigned URL): at most
    /// `width` pixels wide, the aspect kept, encoded with libavcodec's MJPEG encoder. Past the end: the last frame.
    public static func thumbnail(_ path: String, at seconds: Double, width: Int = 320) async throws(MediaError)
        -> [UInt8]
    {
        try await offload { () throws(MediaError) in
            try Thumbnailer(input: try InputFile(path: path)).jpeg(at: max(0, seconds), width: max(16, width))
        }
    }
}

/// Seeks to the keyframe before a time, decodes up to the frame shown then, scales it, encodes it as a JPEG.
struct Thumbnailer {
    let input: InputFile

    func jpeg(at seconds: Double, width: Int) throws(MediaError) -> [UInt8] {
        guard let index = input.bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(.unsupported, "no video stream", path: input.path)
        }
        let stream = input.stream(index)
        let base = stream.pointee.time_base
        let start = stream.pointee.start_time == reel_av_nopts_value() ? 0 : stream.pointee.start_time
        let target = start + Int64(seconds * Double(base.den) / Double(max(1, base.num)))
        _ = av_seek_frame(input.context, Int32(index), target, AVSEEK_FLAG_BACKWARD)  // else: from the start
        let decoder = try Decoder(input, stream: index)
        var packet = av_packet_alloc()
        var frame = av_frame_alloc()
        var chosen = av_frame_alloc()
        defer {
            av_packet_free(&packet)
            av_frame_free(&frame)
            av_frame_free(&chosen)
        }
        var have = false
        var done = false
        /// Keeps the latest frame at or before the target, or the first after it when none came before.
        func take(_ decoded: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            guard !done else { return }
            let ticks = presentationTicks(decoded) ?? target
            if ticks > target && have {
                done = true
                return
            }
            av_frame_unref(chosen)
            guard av_frame_ref(chosen, decoded) >= 0 else {
                throw MediaError(.ioError, "out of memory", path: input.path)
            }
            have = true
            if ticks >= target { done = true }
        }
        while !done {
            let read = av_read_frame(input.context, packet)
            if read == reel_averror_eof() { break }
            guard read >= 0 else { throw MediaError.ffmpeg(read, "cannot read a packet", path: input.path) }
            defer { av_packet_unref(packet) }
            guard Int(packet!.pointee.stream_index) == index else { continue }
            try decoder.decode(packet, into: frame!, path: input.path, take)
        }
        if !done { try decoder.decode(nil, into: frame!, path: input.path, take) }
        guard have, let chosen else { throw MediaError(.invalidData, "no frame decoded", path: input.path) }
        return try encode(chosen, width: width)
    }

    /// `source` scaled to at most `width` (even sizes) and encoded as one JPEG.
    private func encode(_ source: UnsafeMutablePointer<AVFrame>, width: Int) throws(MediaError) -> [UInt8] {
        let sourceWidth = Int(source.pointee.width)
        let sourceHeight = Int(source.pointee.height)
        let outWidth = max(2, min(width, sourceWidth) & ~1)
        let outHeight = max(
            2, Int((Double(sourceHeight) * Double(outWidth) / Double(max(1, sourceWidth))).rounded()) & ~1)
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG), let context = avcodec_alloc_context3(codec) else {
            throw MediaError(.unsupported, "no MJPEG encoder in this FFmpeg", path: input.path)
        }
        var owned: UnsafeMutablePointer<AVCodecContext>? = context
        defer { avcodec_free_context(&owned) }
        context.pointee.width = Int32(outWidth)
        context.pointee.height = Int32(outHeight)
        context.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
        context.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointee.flags |= 2  // AV_CODEC_FLAG_QSCALE: a fixed quality
        context.pointee.global_quality = 3 * 118  // qscale 3 (FF_QP2LAMBDA = 118): small and clean
        let opened = avcodec_open2(context, codec, nil)
        guard opened >= 0 else { throw MediaError.ffmpeg(opened, "cannot open the MJPEG encoder", path: input.path) }
        var picture = av_frame_alloc()
        var packet = av_packet_alloc()
        defer {
            av_frame_free(&picture)
            av_packet_free(&packet)
        }
        guard let picture, let packet else { throw MediaError(.ioError, "out of memory", path: input.path) }
        picture.pointee.width = Int32(outWidth)
        picture.pointee.height = Int32(outHeight)
        picture.pointee.format = AV_PIX_FMT_YUVJ420P.rawValue
        picture.pointee.quality = context.pointee.global_quality
        guard av_frame_get_buffer(picture, 0) >= 0 else {
            throw MediaError(.ioError, "out of memory", path: input.path)
        }
        guard
            let scaler = sws_getContext(
                Int32(sourceWidth), Int32(sourceHeight), AVPixelFormat(source.pointee.format), Int32(outWidth),
                Int32(outHeight), AV_PIX_FMT_YUVJ420P, 4 /* SWS_BICUBIC */, nil, nil, nil)
        else { throw MediaError(.unsupported, "cannot scale pixel format \(source.pointee.format)", path: input.path) }
        defer { sws_freeContext(scaler) }
        withUnsafeMutablePointer(to: &picture.pointee.data) { planes in
            withUnsafeMutablePointer(to: &picture.pointee.linesize) { lines in
                _ = scale(
                    scaler, source,
                    into: UnsafeRawPointer(planes).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self),
                    strides: UnsafeRawPointer(lines).assumingMemoryBound(to: Int32.self))
            }
        }
        var bytes: [UInt8] = []
        let collect = { (encoded: UnsafeMutablePointer<AVPacket>) throws(MediaError) in
            bytes += UnsafeBufferPointer(start: encoded.pointee.data, count: Int(encoded.pointee.size))
        }
        try ReelMedia.encode(context, picture, into: packet, what: "the thumbnail", path: input.path, collect)
        try ReelMedia.encode(context, nil, into: packet, what: "the thumbnail", path: input.path, collect)
        return bytes
    }
}
