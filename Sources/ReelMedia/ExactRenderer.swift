import CFFmpeg

/// The `exact` render mode: every cut decoded (libavcodec) from the keyframe before its start, and exactly the
/// frames whose time lies in [start, end) encoded (libx264 or libx265 at the options' CRF and preset, 8-bit 4:2:0)
/// at their source timestamps shifted onto the output clock; audio re-encoded to AAC in step. MP4 with the index
/// at the front; the first source's rotation kept.
struct ExactRenderer {
    let cuts: [CutRange]
    let output: String
    let options: RenderOptions

    func run() throws(MediaError) -> RenderResult {
        try render(try RenderSession(cuts: cuts, output: output))
    }

    /// Renders into `session`, whose output has no streams yet.
    func render(_ session: RenderSession) throws(MediaError) -> RenderResult {
        let encoder = try session.first.videoStream.map { stream throws(MediaError) in
            try VideoEncoder(
                Self.encoding(for: stream, in: session.first, options: options),
                globalHeader: session.file.wantsGlobalHeader,
                path: output)
        }
        if let encoder { try session.addVideo(encoder.context) }
        try session.addAudio()
        try session.begin()
        let base = session.videoTimeBase
        let write = { (packet: UnsafeMutablePointer<AVPacket>) throws(MediaError) in
            try session.writeVideo(packet, from: base)
        }
        for (index, cut) in cuts.enumerated() {
            try session.reader(cut).read(
                start: cut.start, end: cut.end,
                onVideo: { frame, t throws(MediaError) in
                    try encoder?.add(frame, pts: session.videoPTS(index, t), write: write)
                },
                onAudio: { frame, t throws(MediaError) in try session.placeAudio(index, frame, at: t) })
            try encoder?.endSegment(at: session.videoStart(index + 1), write: write)
            try session.endAudio(index)
        }
        try encoder?.finish(write: write)
        return try session.finish(mode: .exact, frames: encoder?.frames ?? 0)
    }

    /// The encoding for a source's video: its size (rounded down to even, as 4:2:0 needs), aspect, frame rate,
    /// time base and colour description.
    static func encoding(
        for stream: UnsafeMutablePointer<AVStream>, in reader: CutReader, options: RenderOptions
    ) -> VideoEncoding {
        let p = stream.pointee.codecpar.pointee
        var rate = av_guess_frame_rate(reader.input.context, stream, nil)
        if rate.num <= 0 || rate.den <= 0 { rate = AVRational(num: 25, den: 1) }
        let fullRangeFormat = [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P].map(\.rawValue)
            .contains(p.format)
        return VideoEncoding(
            codec: options.codec, width: p.width & ~1, height: p.height & ~1,
            sampleAspectRatio: p.sample_aspect_ratio, timeBase: stream.pointee.time_base, frameRate: rate,
            crf: options.crf, preset: options.preset,
            // libswscale turns full-range "J" formats into limited-range 4:2:0.
            colorRange: fullRangeFormat ? AVCOL_RANGE_MPEG : p.color_range, colorPrimaries: p.color_primaries,
            colorTransfer: p.color_trc, colorSpace: p.color_space)
    }
}
