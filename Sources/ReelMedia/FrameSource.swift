import CFFmpeg

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
    /// While set, frames shown before this time are decoded but neither scaled nor handed on.
    var handOnFrom: Double?

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

    /// The time of the last frame the decoder gave since the last seek, handed on or not; `nil` before any, and
    /// `.infinity` once the stream ended (a drained decoder takes nothing more until a seek).
    private(set) var decodedThrough: Double?
    /// Seeks made so far.
    private(set) var seeks = 0

    /// Moves to the keyframe at or before `seconds` and forgets what the decoder holds; false if it cannot.
    func seek(to seconds: Double) -> Bool {
        guard input.seekBackward(videoIndex, to: seconds) else { return false }
        decoder.flush()
        decodedThrough = nil
        seeks += 1
        return true
    }

    /// Makes the next frame handed on the first at or after `seconds` (within a quarter frame of `frameDuration`),
    /// decoding every frame from there: by going on from where the source stands when it has given no frame at or
    /// after `seconds` and no keyframe lies between (a seek would decode again what it decoded), else by a seek to
    /// the keyframe at or before `seconds`. False if it cannot seek.
    func position(at seconds: Double, frameDuration: Double) -> Bool {
        if let through = decodedThrough, through < seconds - frameDuration / 4,
            let keyframe = input.indexedKeyframe(videoIndex, atOrBefore: seconds), keyframe <= through
        {
            return true
        }
        return seek(to: seconds)
    }

    /// Hands each decoded frame's thumbnail and time to `body` until it returns false or the stream ends.
    func frames(_ body: ([UInt8], Double) throws(MediaError) -> Bool) throws(MediaError) {
        var going = true
        func take(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            let time = timeBase.times(presentationTicks(frame) ?? 0).seconds
            decodedThrough = max(decodedThrough ?? time, time)
            guard going, time >= handOnFrom ?? -.infinity else { return }
            going = try body(try thumbnails.luma(of: frame), time)
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
        if going {
            try decoder.decode(nil, into: frame!, path: input.path, take)
            decodedThrough = .infinity
        }
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
