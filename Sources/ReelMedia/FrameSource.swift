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
    /// While set, nothing is handed on after a seek until a keyframe (or intra frame) is decoded: a seek by
    /// estimate can land on a frame whose references were never decoded.
    var keyframeAfterSeek = false
    private var awaitingKeyframe = false
    /// Frames not handed on since the last seek for want of a keyframe (`keyframeAfterSeek`).
    private(set) var droppedSinceSeek = 0
    /// While set, packets are read up to `lookahead` ahead of the decoder, and the non-reference frames shown where
    /// a cut is likely are decoded too and handed on as not measured (for a decoder without frame threads).
    var likelyCuts: LikelyCuts?
    /// Times of the non-reference frames left undecoded while `likelyCuts` was set, in decoding order; the reader
    /// forgets what it no longer needs (`forgetSkips`).
    private(set) var skipped: [Double] = []
    /// False once a frame the decoder may have skipped could not be told apart or timed: `skipped` is incomplete.
    private(set) var skipsKnown = true
    /// The keyframes read while `likelyCuts` was set.
    private(set) var keyframes = KeyframeTable()
    /// Where seeks go when the container keeps no index of its own (`KeyframeTable`).
    var knownKeyframes: KeyframeTable?
    private let kinds: PacketKinds?
    private var ahead: [(packet: UnsafeMutablePointer<AVPacket>, kind: PacketKind?)] = []
    private var aheadBytes = 0
    private var extraTicks: Set<Int64> = []
    static let lookahead = 24
    static let lookaheadBytes = 16 << 20

    /// `skipping` says which frames the decoder leaves out; `threads` 0 lets it choose.
    init(_ input: InputFile, _ videoIndex: Int, width: Int, skipping: AVDiscard, threads: Int32) throws(MediaError) {
        self.input = input
        self.videoIndex = videoIndex
        timeBase = Rational(input.stream(videoIndex).pointee.time_base)
        thumbnails = Thumbnails(width: width, path: input.path)
        kinds = PacketKinds(input.stream(videoIndex).pointee.codecpar)
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
        dropAhead()
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    /// The time of the last frame the decoder gave since the last seek, handed on or not; `nil` before any, and
    /// `.infinity` once the stream ended (a drained decoder takes nothing more until a seek).
    private(set) var decodedThrough: Double?
    /// Seeks made so far.
    private(set) var seeks = 0

    /// Moves to the keyframe at or before `seconds` and forgets what the decoder holds; false if it cannot. The
    /// keyframe is found by its byte when that is given or known (`knownKeyframes`), else by the demuxer.
    func seek(to seconds: Double, byte: Int64? = nil) -> Bool {
        if let byte = byte ?? knownKeyframes?.atOrBefore(seconds)?.position {
            guard input.seek(toByte: byte) else { return false }
        } else {
            guard input.seekBackward(videoIndex, to: seconds) else { return false }
        }
        dropAhead()
        decoder.flush()
        awaitingKeyframe = keyframeAfterSeek
        droppedSinceSeek = 0
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
            let keyframe = knownKeyframes?.atOrBefore(seconds)?.time
                ?? input.indexedKeyframe(videoIndex, atOrBefore: seconds),
            keyframe <= through
        {
            return true
        }
        return seek(to: seconds)
    }

    /// Hands each decoded frame's thumbnail and time to `body` until it returns false or the stream ends.
    func frames(_ body: ([UInt8], Double) throws(MediaError) -> Bool) throws(MediaError) {
        try frames { (thumb, time, _) throws(MediaError) -> Bool in try body(thumb, time) }
    }

    /// Hands each decoded frame's thumbnail, time, and whether it is measured (not one of the extra frames
    /// `likelyCuts` picked) to `body` until it returns false or the stream ends. Packets read ahead and not
    /// decoded when it stops are dropped.
    func frames(marking body: ([UInt8], Double, Bool) throws(MediaError) -> Bool) throws(MediaError) {
        var going = true
        func take(_ frame: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            let time = timeBase.times(presentationTicks(frame) ?? 0).seconds
            decodedThrough = max(decodedThrough ?? time, time)
            if awaitingKeyframe {
                guard frame.pointee.key_frame != 0 || frame.pointee.pict_type == AV_PICTURE_TYPE_I else {
                    droppedSinceSeek += 1
                    return
                }
                awaitingKeyframe = false
            }
            let extra = !extraTicks.isEmpty && extraTicks.remove(frame.pointee.pts) != nil
            guard going, time >= handOnFrom ?? -.infinity else { return }
            going = try body(try thumbnails.luma(of: frame), time, !extra)
        }
        defer { dropAhead() }
        while going, let (next, kind) = try nextPacket() {
            defer {
                if likelyCuts == nil {
                    av_packet_unref(next)
                } else {
                    var held: UnsafeMutablePointer<AVPacket>? = next
                    av_packet_free(&held)
                }
            }
            let pts = next.pointee.pts
            let time = pts == reel_av_nopts_value() ? nil : timeBase.times(pts).seconds
            if let likelyCuts {
                var skip = AVDISCARD_NONREF
                if let kind, !kind.reference, let time {
                    if likelyCuts.decodes(nonReferenceAt: time) {
                        skip = AVDISCARD_DEFAULT
                        extraTicks.insert(pts)
                    } else {
                        skipped.append(time)
                    }
                } else if kind == nil || time == nil {
                    skipsKnown = false
                }
                decoder.context.pointee.skip_frame = skip
            } else if let before = referenceOnlyBefore {
                let early = time.map { $0 < before } ?? false
                decoder.context.pointee.skip_frame = early ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            }
            try decoder.decode(next, into: frame!, path: input.path, take)
        }
        if going {
            try decoder.decode(nil, into: frame!, path: input.path, take)
            decodedThrough = .infinity
        }
    }

    /// Forgets the skipped frames read before any shown at or after `time` (the reader needs none before it).
    func forgetSkips(before time: Double) {
        let stale = skipped.prefix { $0 < time }.count
        if stale > 64 { skipped.removeFirst(stale) }
    }

    /// The next packet of the video stream in decoding order, with its kind when `likelyCuts` is set (then read
    /// ahead, and the caller frees it); nil at the end.
    private func nextPacket() throws(MediaError) -> (UnsafeMutablePointer<AVPacket>, PacketKind?)? {
        guard likelyCuts != nil else { return try readVideo().map { ($0, nil) } }
        while ahead.count < Self.lookahead, aheadBytes < Self.lookaheadBytes, let read = try readVideo() {
            let held = av_packet_alloc()!
            av_packet_move_ref(held, read)
            let kind = held.pointee.data.flatMap {
                kinds?.kind(of: UnsafeBufferPointer(start: $0, count: Int(held.pointee.size)))
            }
            let key = held.pointee.flags & AV_PKT_FLAG_KEY != 0
            if key, held.pointee.pts != reel_av_nopts_value() {
                keyframes.add(time: timeBase.times(held.pointee.pts).seconds, position: held.pointee.pos)
            }
            if let kind, kind.reference, held.pointee.pts != reel_av_nopts_value() {
                likelyCuts?.read(
                    .init(
                        time: timeBase.times(held.pointee.pts).seconds, size: Int(held.pointee.size), kind: kind.kind,
                        key: key))
            }
            ahead.append((held, kind))
            aheadBytes += Int(held.pointee.size)
        }
        guard !ahead.isEmpty else { return nil }
        let first = ahead.removeFirst()
        aheadBytes -= Int(first.packet.pointee.size)
        return first
    }

    /// The next packet of the video stream, in `packet`; nil at the end.
    private func readVideo() throws(MediaError) -> UnsafeMutablePointer<AVPacket>? {
        while true {
            let rc = av_read_frame(input.context, packet)
            if rc == reel_averror_eof() { return nil }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: input.path) }
            if Int(packet!.pointee.stream_index) == videoIndex { return packet! }
            av_packet_unref(packet)
        }
    }

    private func dropAhead() {
        for entry in ahead {
            var doomed: UnsafeMutablePointer<AVPacket>? = entry.packet
            av_packet_free(&doomed)
        }
        ahead = []
        aheadBytes = 0
        extraTicks = []
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
