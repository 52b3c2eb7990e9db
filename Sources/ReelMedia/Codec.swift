import CFFmpeg

/// An opened libavcodec decoder for one stream of an `InputFile`: owns its `AVCodecContext`.
final class Decoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let streamIndex: Int
    let timeBase: AVRational
    /// Frames decoded so far.
    private(set) var frames = 0

    /// Opens a decoder for `stream` of `input`; `configure` may set options (threads, shortcuts) before opening.
    init(
        _ input: InputFile, stream index: Int,
        configure: (UnsafeMutablePointer<AVCodecContext>) -> Void = { _ in }
    ) throws(MediaError) {
        let stream = input.stream(index)
        let parameters = stream.pointee.codecpar!
        guard let decoder = avcodec_find_decoder(parameters.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            throw MediaError(.unsupported, "no decoder for \(name)", path: input.path)
        }
        guard let context = avcodec_alloc_context3(decoder) else {
            throw MediaError(.ioError, "cannot allocate a decoder", path: input.path)
        }
        self.context = context
        streamIndex = index
        timeBase = stream.pointee.time_base
        let copied = avcodec_parameters_to_context(context, parameters)
        guard copied >= 0 else { throw MediaError.ffmpeg(copied, "cannot configure the decoder", path: input.path) }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = 0  // as many as the codec finds useful
        configure(context)
        let opened = avcodec_open2(context, decoder, nil)
        guard opened >= 0 else { throw MediaError.ffmpeg(opened, "cannot open the decoder", path: input.path) }
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&doomed)
    }

    /// Sends `packet` (nil: end of stream) and hands each frame it completes to `body`; the frame is unreferenced
    /// after `body` returns. `body` returns false to stop taking frames.
    func decode(
        _ packet: UnsafeMutablePointer<AVPacket>?, into frame: UnsafeMutablePointer<AVFrame>, path: String,
        _ body: (UnsafeMutablePointer<AVFrame>) throws(MediaError) -> Void
    ) throws(MediaError) {
        let sent = avcodec_send_packet(context, packet)
        // A damaged packet is the decoder's to conceal; the end of stream sent twice is harmless.
        guard sent >= 0 || sent == reel_averror_invaliddata() || sent == reel_averror_eof() else {
            throw MediaError.ffmpeg(sent, "cannot decode", path: path)
        }
        while true {
            let received = avcodec_receive_frame(context, frame)
            if received == reel_averror_eagain() || received == reel_averror_eof() { return }
            if received == reel_averror_invaliddata() { continue }
            guard received >= 0 else { throw MediaError.ffmpeg(received, "cannot decode", path: path) }
            defer { av_frame_unref(frame) }
            frames += 1
            try body(frame)
        }
    }

    /// Forgets buffered frames (after a seek).
    func flush() { avcodec_flush_buffers(context) }
}

/// Sends `frame` (nil: end of stream) to the encoder `context` and hands each packet it completes to `body`; the
/// packet is unreferenced after `body` returns. `what` names the media in errors.
func encode(
    _ context: UnsafeMutablePointer<AVCodecContext>, _ frame: UnsafeMutablePointer<AVFrame>?,
    into packet: UnsafeMutablePointer<AVPacket>, what: String, path: String,
    _ body: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
) throws(MediaError) {
    let sent = avcodec_send_frame(context, frame)
    guard sent >= 0 else { throw MediaError.ffmpeg(sent, "cannot encode \(what)", path: path) }
    while true {
        let received = avcodec_receive_packet(context, packet)
        if received == reel_averror_eagain() || received == reel_averror_eof() { return }
        guard received >= 0 else { throw MediaError.ffmpeg(received, "cannot encode \(what)", path: path) }
        defer { av_packet_unref(packet) }
        try body(packet)
    }
}

/// A frame's presentation time in ticks of its stream (best effort), or nil.
func presentationTicks(_ frame: UnsafeMutablePointer<AVFrame>) -> Int64? {
    let best = frame.pointee.best_effort_timestamp
    if best != reel_av_nopts_value() { return best }
    return frame.pointee.pts == reel_av_nopts_value() ? nil : frame.pointee.pts
}

/// `sws_scale` of all of `frame` into the planes `destination` with line sizes `strides`.
func scale(
    _ scaler: OpaquePointer, _ frame: UnsafeMutablePointer<AVFrame>,
    into destination: UnsafePointer<UnsafeMutablePointer<UInt8>?>, strides: UnsafePointer<Int32>
) -> Int32 {
    withUnsafePointer(to: &frame.pointee.data) { planes in
        withUnsafePointer(to: &frame.pointee.linesize) { lines in
            sws_scale(
                scaler, UnsafeRawPointer(planes).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                UnsafeRawPointer(lines).assumingMemoryBound(to: Int32.self), 0, frame.pointee.height, destination,
                strides)
        }
    }
}

/// Decides where decoding of a range starts: holds the video packets from the latest keyframe at or before
/// `start` until a packet shows no later keyframe can come before `start` (a packet presented after it), then
/// lets them through. A seek aimed early (for the audio stored ahead of the video) thus decodes from the last
/// keyframe before the start, not from whichever earlier keyframe the seek landed on.
final class KeyframeGate {
    let start: Double
    private var held: [UnsafeMutablePointer<AVPacket>?] = []
    private var open = false

    init(start: Double) { self.start = start }

    deinit { for var packet in held { av_packet_free(&packet) } }

    /// Takes `packet`, presented at `time` (nil when unknown); `decode` gets what is to be decoded now, in order.
    func pass(
        _ packet: UnsafeMutablePointer<AVPacket>, time: Double?,
        decode: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void
    ) throws(MediaError) {
        if open { return try decode(packet) }
        let key = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
        let before = time.map { $0 <= start } ?? true
        if key && before {
            release()
            held.append(av_packet_clone(packet))
        } else if held.isEmpty {
            // No keyframe at or before the start yet: a keyframe after it is where decoding must begin (the caller
            // notices the seek landed late); anything else cannot be decoded.
            if key {
                open = true
                try decode(packet)
            }
        } else if key {
            try flush(decode: decode)
            try decode(packet)
        } else {
            held.append(av_packet_clone(packet))
            if !before { try flush(decode: decode) }
        }
    }

    /// Lets everything held through (at the end of the file).
    func flush(decode: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void) throws(MediaError) {
        open = true
        defer { release() }
        for packet in held { if let packet { try decode(packet) } }
    }

    private func release() {
        for var packet in held { av_packet_free(&packet) }
        held.removeAll()
    }
}
