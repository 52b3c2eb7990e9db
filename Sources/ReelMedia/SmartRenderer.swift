import CFFmpeg

/// The `smart` render mode, for H.264 sources whose parameter sets live in an `avcC` record (MP4, MOV,
/// Matroska): frame-accurate like `exact`, but each cut is re-encoded only from its start to its first IDR
/// keyframe and from its last IDR keyframe to its end; the packets between are copied bit for bit.
///
/// The re-encoded runs come from libx264 with its own SPS/PPS under ids the source does not use (`sps-id`), both
/// sets in one `avcC` record, so a decoder switches between them at each IDR, where H.264 allows it. The runs
/// have no B-frames; every decode timestamp is moved back by the source's B-frame delay so the copied GOPs and
/// the runs interleave in one rising sequence. Anything else — another codec, Annex B (MPEG-TS) or 10-bit
/// sources, sources that differ, parameter-set ids exhausted — renders `exact`, with the reason in the result.
struct SmartRenderer {
    let cuts: [CutRange]
    let output: String
    let options: RenderOptions

    func run() throws(MediaError) -> RenderResult {
        let session = try RenderSession(cuts: cuts, output: output)
        switch try Self.plan(session, options: options) {
        case .failure(let reason):
            // The sources stay open: the plan added nothing to the output.
            var result = try ExactRenderer(cuts: cuts, output: output, options: options).render(session)
            result.fallbackReason = "smart mode fell back to exact: \(reason)"
            return result
        case .success(let plan):
            return try render(session, plan)
        }
    }

    /// What the smart render needs to know before writing.
    struct Plan {
        var config: H264.Config
        var combined: H264.Config
        var encoding: VideoEncoding
        /// IDR keyframes and B-frame delay of each source.
        var keyframes: [String: (keys: [Int64], delay: Int64)]
    }

    struct Refusal: Error { var reason: String }

    /// Checks the sources can be matched and prepares the combined parameter sets.
    static func plan(_ session: RenderSession, options: RenderOptions) throws(MediaError) -> Result<Plan, Refusal> {
        guard options.codec == .h264 else { return .failure(Refusal(reason: "smart mode writes H.264 only")) }
        guard let stream = session.first.videoStream else { return .failure(Refusal(reason: "no video stream")) }
        let p = stream.pointee.codecpar.pointee
        guard p.codec_id == AV_CODEC_ID_H264 else {
            return .failure(
                Refusal(reason: "the source is \(String(cString: avcodec_get_name(p.codec_id))), not H.264"))
        }
        guard p.format == AV_PIX_FMT_YUV420P.rawValue || p.format == AV_PIX_FMT_YUVJ420P.rawValue else {
            let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: p.format)).map { String(cString: $0) } ?? "unknown"
            return .failure(Refusal(reason: "the source's pixels are \(name), not 8-bit 4:2:0"))
        }
        guard p.field_order == AV_FIELD_PROGRESSIVE || p.field_order == AV_FIELD_UNKNOWN else {
            return .failure(Refusal(reason: "the source is interlaced"))
        }
        let extradata = Array(UnsafeBufferPointer(start: p.extradata, count: Int(p.extradata_size)))
        guard let config = H264.Config(avcC: extradata) else {
            return .failure(Refusal(reason: "the source keeps its parameter sets in the stream (Annex B), not in avcC"))
        }
        for reader in session.readers.values {
            guard let other = reader.videoStream?.pointee.codecpar.pointee, other.codec_id == p.codec_id,
                other.width == p.width, other.height == p.height,
                Array(UnsafeBufferPointer(start: other.extradata, count: Int(other.extradata_size))) == extradata
            else { return .failure(Refusal(reason: "\(reader.path) does not share the first source's parameter sets")) }
        }
        // libx264's NAL units can pass 65535 bytes: 1- and 2-byte lengths cannot carry them.
        guard config.lengthSize == 4 else {
            return .failure(Refusal(reason: "the source's NAL units have \(config.lengthSize)-byte lengths, not 4"))
        }
        // The encoded runs keep to the source's profile and level, which the avcC record declares for both.
        let profiles: [Int32: String] = [66: "baseline", 578: "baseline", 77: "main", 100: "high"]
        guard let profile = profiles[p.profile] else {
            let name = avcodec_profile_name(p.codec_id, p.profile).map { String(cString: $0) } ?? "\(p.profile)"
            return .failure(Refusal(reason: "libx264 cannot match the source's H.264 profile \(name)"))
        }
        let used = config.spsIDs.union(config.ppsIDs)
        guard let id = (0..<32).first(where: { !used.contains($0) }) else {
            return .failure(Refusal(reason: "the source uses every parameter-set id"))
        }
        guard avcodec_find_encoder_by_name(RenderCodec.h264.encoderName) != nil else {
            return .failure(Refusal(reason: "this FFmpeg build has no libx264"))
        }
        var encoding = ExactRenderer.encoding(for: stream, in: session.first, options: options)
        encoding.width = p.width
        encoding.height = p.height
        encoding.privateOptions["profile"] = profile
        var x264 = "sps-id=\(id):bframes=0"
        if p.level > 0 { x264 += ":level=\(p.level / 10).\(p.level % 10)" }
        encoding.privateOptions["x264-params"] = x264
        // libx264's parameter sets for these settings (every run opens an encoder like this one).
        let probe = try VideoEncoder(encoding, globalHeader: true, path: session.file.path)
        let headers = H264.annexBUnits(
            Array(
                UnsafeBufferPointer(
                    start: probe.context.pointee.extradata, count: Int(probe.context.pointee.extradata_size))))
        let sps = headers.filter { $0[0] & 0x1f == 7 }
        let pps = headers.filter { $0[0] & 0x1f == 8 }
        guard sps.count == 1, pps.count == 1, H264.spsID(sps[0]) == id, H264.ppsID(pps[0]) == id else {
            return .failure(Refusal(reason: "libx264's parameter sets could not be given a free id"))
        }
        let combined = H264.Config(
            lengthSize: config.lengthSize, sps: config.sps + sps, pps: config.pps + pps, trailer: config.trailer)
        var keyframes: [String: (keys: [Int64], delay: Int64)] = [:]
        for (path, reader) in session.readers {
            keyframes[path] = try reader.idrKeyframes(lengthSize: config.lengthSize)
        }
        return .success(Plan(config: config, combined: combined, encoding: encoding, keyframes: keyframes))
    }

    private func render(_ session: RenderSession, _ plan: Plan) throws(MediaError) -> RenderResult {
        let source = session.first.videoStream!
        let stream = try session.file.addStream(copying: source.pointee.codecpar, timeBase: session.videoTimeBase)
        let avcC = plan.combined.avcC
        let par = stream.pointee.codecpar!
        av_freep(&par.pointee.extradata)
        par.pointee.extradata = av_mallocz(avcC.count + Int(AV_INPUT_BUFFER_PADDING_SIZE)).assumingMemoryBound(
            to: UInt8.self)
        par.pointee.extradata.update(from: avcC, count: avcC.count)
        par.pointee.extradata_size = Int32(avcC.count)
        session.keepGeometry(stream)
        try session.addAudio()
        try session.begin()

        let base = session.videoTimeBase
        let writer = PacketWriter(session: session)
        var frames = 0
        for (index, cut) in cuts.enumerated() {
            let reader = session.reader(cut)
            let video = reader.video!
            let facts = plan.keyframes[cut.source]!
            let tol = reader.tolerance(video.timeBase)
            let delay = av_rescale_q(facts.delay, video.timeBase, base)
            func t(_ ticks: Int64) -> Double { reader.seconds(ticks, video.timeBase) }
            // Whole GOPs inside the cut are copied: from its first IDR up to its last (the last may be the cut's end).
            let first = facts.keys.first { t($0) >= cut.start - tol && t($0) < cut.end - tol }
            let last = facts.keys.last { t($0) <= cut.end + tol }

            // One run of libx264 over [start, end) of this cut.
            func encode(_ start: Double, _ end: Double) throws(MediaError) {
                let encoder = try VideoEncoder(plan.encoding, globalHeader: true, path: output)
                let write = { (packet: UnsafeMutablePointer<AVPacket>) throws(MediaError) in
                    try writer.writeEncoded(packet, lengthSize: plan.config.lengthSize, delay: delay)
                }
                try reader.read(
                    start: start, end: end,
                    onVideo: { frame, ft throws(MediaError) in
                        try encoder.add(frame, pts: session.videoPTS(index, ft), write: write)
                    },
                    onAudio: { frame, at throws(MediaError) in try session.placeAudio(index, frame, at: at) })
                try encoder.endSegment(
                    at: min(session.videoPTS(index, end), session.videoStart(index + 1)), write: write)
                try encoder.finish(write: write)
                frames += encoder.frames
            }

            guard let from = first, let until = last, until > from else {
                // No whole GOP inside the cut: all of it is encoded.
                try encode(cut.start, cut.end)
                try session.endAudio(index)
                continue
            }
            if t(from) > cut.start + tol { try encode(cut.start, t(from)) }
            try reader.copy(
                from: from, until: until, audioEnd: t(until),
                onPacket: { packet throws(MediaError) in
                    try writer.writeCopied(
                        packet, from: video.timeBase,
                        shift: { ticks in
                            session.videoPTS(index, t(ticks))
                        })
                    frames += 1
                },
                onAudio: { frame, at throws(MediaError) in try session.placeAudio(index, frame, at: at) })
            if t(until) < cut.end - tol { try encode(t(until), cut.end) }
            try session.endAudio(index)
        }
        return try session.finish(mode: .smart, frames: frames)
    }
}

/// Writes the smart render's video packets: copied ones moved onto the output clock, encoded ones turned from
/// Annex B into the source's length-prefixed form; decode timestamps kept rising across every seam.
final class PacketWriter {
    let session: RenderSession
    private var lastDTS = Int64.min
    private var scratch: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()

    init(session: RenderSession) { self.session = session }

    deinit { av_packet_free(&scratch) }

    /// A copied packet: `shift` maps source ticks to output ticks.
    func writeCopied(
        _ packet: UnsafeMutablePointer<AVPacket>, from timeBase: AVRational, shift: (Int64) -> Int64
    ) throws(MediaError) {
        let base = session.videoTimeBase
        let pts = packet.pointee.pts
        let dts = packet.pointee.dts
        packet.pointee.duration = av_rescale_q(packet.pointee.duration, timeBase, base)
        packet.pointee.pts = pts == reel_av_nopts_value() ? pts : shift(pts)
        packet.pointee.dts = dts == reel_av_nopts_value() ? packet.pointee.pts : shift(dts)
        packet.pointee.pos = -1
        try write(packet)
    }

    /// A libx264 packet (no B-frames: decode time = presentation time), its decode time moved back by `delay`.
    func writeEncoded(_ packet: UnsafeMutablePointer<AVPacket>, lengthSize: Int, delay: Int64)
        throws(MediaError)
    {
        let converted = H264.lengthPrefixed(
            annexB: Array(UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size))),
            lengthSize: lengthSize)
        let out = scratch!
        let made = av_new_packet(out, Int32(converted.count))
        guard made >= 0 else { throw MediaError.ffmpeg(made, "cannot allocate a packet", path: session.file.path) }
        defer { av_packet_unref(out) }
        out.pointee.data.update(from: converted, count: converted.count)
        av_packet_copy_props(out, packet)
        out.pointee.dts = packet.pointee.pts - delay
        try write(out)
    }

    private func write(_ packet: UnsafeMutablePointer<AVPacket>) throws(MediaError) {
        if packet.pointee.dts <= lastDTS { packet.pointee.dts = lastDTS + 1 }
        if packet.pointee.pts < packet.pointee.dts { packet.pointee.pts = packet.pointee.dts }
        lastDTS = packet.pointee.dts
        try session.writeVideo(packet, from: session.videoTimeBase)
    }
}
