import CFFmpeg

/// What the encoded render modes share: the sources (opened once each), the MP4 being written, the audio encoder,
/// and where each cut lands on the output's clock. Cut `i` occupies [offsets[i], offsets[i+1]) seconds of output,
/// its length exactly the timeline's; video and audio positions are rounded from those offsets, never
/// accumulated, so no seam drifts.
final class RenderSession {
    let cuts: [CutRange]
    let file: OutputFile
    private(set) var readers: [String: CutReader] = [:]
    /// The first source: it sets the picture size, frame rate, time base, rotation and audio format.
    let first: CutReader
    let offsets: [Double]
    private(set) var audio: AudioEncoder?
    private(set) var audioStream: Int32 = -1
    private(set) var videoStream: Int32 = -1
    /// The video clock: the first source's video time base.
    let videoTimeBase: AVRational

    init(cuts: [CutRange], output: String) throws(MediaError) {
        try validate(cuts, output: output)
        self.cuts = cuts
        var readers: [String: CutReader] = [:]
        for cut in cuts where readers[cut.source] == nil { readers[cut.source] = try CutReader(path: cut.source) }
        self.readers = readers
        first = readers[cuts[0].source]!
        var offsets = [0.0]
        for cut in cuts { offsets.append(offsets.last! + (cut.end - cut.start)) }
        self.offsets = offsets
        videoTimeBase = first.videoStream?.pointee.time_base ?? AVRational(num: 1, den: 90_000)
        file = try OutputFile(path: output, format: "mp4")
    }

    func reader(_ cut: CutRange) -> CutReader { readers[cut.source]! }

    /// Video ticks where cut `index` starts on the output.
    func videoStart(_ index: Int) -> Int64 { ticks(offsets[index], videoTimeBase) }

    /// Output video ticks of source time `t` in cut `index`.
    func videoPTS(_ index: Int, _ t: Double) -> Int64 {
        videoStart(index) + ticks(t - cuts[index].start, videoTimeBase)
    }

    /// Adds the output's video stream (as `encoder` describes it) with the first source's display matrix
    /// (rotation).
    func addVideo(_ encoder: UnsafeMutablePointer<AVCodecContext>) throws(MediaError) {
        let stream = try addStream(for: encoder)
        stream.pointee.time_base = videoTimeBase
        keepGeometry(stream)
    }

    /// Makes `stream` the output's video stream, with the first source's picture geometry (rotation, stereo 3D,
    /// spherical mapping).
    func keepGeometry(_ stream: UnsafeMutablePointer<AVStream>) {
        videoStream = stream.pointee.index
        if let source = first.videoStream { copySideData(from: source, to: stream, geometryOnly: true) }
    }

    /// The AAC encoder and stream, when the first source has audio.
    func addAudio() throws(MediaError) {
        guard let source = first.audioStream else { return }
        let parameters = source.pointee.codecpar.pointee
        let encoder = try AudioEncoder(
            sampleRate: parameters.sample_rate > 0 ? parameters.sample_rate : 48_000, layout: parameters.ch_layout,
            globalHeader: file.wantsGlobalHeader, path: file.path)
        let stream = try addStream(for: encoder.context)
        audioStream = stream.pointee.index
        audio = encoder
    }

    /// Adds a stream described by `encoder`'s settings.
    func addStream(for encoder: UnsafeMutablePointer<AVCodecContext>) throws(MediaError) -> UnsafeMutablePointer<
        AVStream
    > {
        var parameters = avcodec_parameters_alloc()
        defer { avcodec_parameters_free(&parameters) }
        let rc = avcodec_parameters_from_context(parameters, encoder)
        guard rc >= 0, let parameters else {
            throw MediaError.ffmpeg(rc, "cannot describe the encoder", path: file.path)
        }
        return try file.addStream(copying: parameters, timeBase: encoder.pointee.time_base)
    }

    func begin() throws(MediaError) { try file.begin(options: ["movflags": "+faststart"]) }

    /// Writes an encoded video packet (timestamps in `timeBase`).
    func writeVideo(_ packet: UnsafeMutablePointer<AVPacket>, from timeBase: AVRational) throws(MediaError) {
        av_packet_rescale_ts(packet, timeBase, file.timeBase(Int(videoStream)))
        packet.pointee.stream_index = videoStream
        try file.write(packet)
    }

    /// Writes an encoded audio packet.
    func writeAudio(_ packet: UnsafeMutablePointer<AVPacket>) throws(MediaError) {
        guard let audio else { return }
        av_packet_rescale_ts(packet, audio.context.pointee.time_base, file.timeBase(Int(audioStream)))
        packet.pointee.stream_index = audioStream
        try file.write(packet)
    }

    /// Places an audio frame of cut `index` at source time `t`.
    func placeAudio(_ index: Int, _ frame: UnsafeMutablePointer<AVFrame>, at t: Double) throws(MediaError) {
        guard let audio else { return }
        let samples = AVRational(num: 1, den: audio.sampleRate)
        let position = ticks(offsets[index], samples) + ticks(t - cuts[index].start, samples)
        try audio.place(frame, at: position, limit: ticks(offsets[index + 1], samples)) {
            p throws(MediaError) in
            try writeAudio(p)
        }
    }

    /// Ends cut `index`'s audio: silence up to its end.
    func endAudio(_ index: Int) throws(MediaError) {
        guard let audio else { return }
        try audio.endSegment(at: ticks(offsets[index + 1], AVRational(num: 1, den: audio.sampleRate))) {
            p throws(MediaError) in try writeAudio(p)
        }
    }

    /// Drains the audio encoder, writes the trailer and moves the file into place.
    func finish(mode: RenderMode, frames: Int, fallbackReason: String? = nil) throws(MediaError) -> RenderResult {
        try audio?.finish { p throws(MediaError) in try writeAudio(p) }
        let bytes = try file.finish()
        return RenderResult(
            path: file.path, duration: offsets.last!, bytes: bytes, mode: mode, frames: frames,
            fallbackReason: fallbackReason)
    }
}
