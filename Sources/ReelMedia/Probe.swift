import CFFmpeg
import FoundationEssentials

/// What a media file holds.
public struct MediaInfo: Sendable, Codable, Equatable {
    /// The container, as FFmpeg names it.
    public var container: String
    /// Seconds; `nil` when unknown.
    public var duration: Double?
    /// Bits per second over the whole file; `nil` when unknown.
    public var bitRate: Int?
    public var streams: [StreamInfo]
    /// Presentation times (seconds) of the video keyframes, when asked for.
    public var keyframes: [Double]?
}

/// One stream of a media file.
public struct StreamInfo: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case video, audio, subtitle, data, other }

    public var index: Int
    public var kind: Kind
    public var codec: String
    public var profile: String?
    public var width: Int?
    public var height: Int?
    /// Frames per second, exact.
    public var frameRate: Rational?
    public var sampleRate: Int?
    /// e.g. "stereo", "5.1".
    public var channelLayout: String?
    /// Degrees clockwise the display matrix turns the picture (0 when none).
    public var rotation: Double?
    public var timeBase: Rational
    /// Seconds; `nil` when unknown.
    public var startTime: Double?
}

extension InputFile {
    func probe(keyframes: Bool) throws(MediaError) -> MediaInfo {
        let ctx = context.pointee
        var streams: [StreamInfo] = []
        for i in 0..<streamCount {
            let stream = self.stream(i)
            let par = stream.pointee.codecpar.pointee
            let kind: StreamInfo.Kind
            switch par.codec_type {
            case AVMEDIA_TYPE_VIDEO: kind = .video
            case AVMEDIA_TYPE_AUDIO: kind = .audio
            case AVMEDIA_TYPE_SUBTITLE: kind = .subtitle
            case AVMEDIA_TYPE_DATA: kind = .data
            default: kind = .other
            }
            var info = StreamInfo(
                index: i, kind: kind, codec: String(cString: avcodec_get_name(par.codec_id)),
                profile: avcodec_profile_name(par.codec_id, par.profile).map { String(cString: $0) },
                timeBase: Rational(stream.pointee.time_base),
                startTime: stream.pointee.start_time == reel_av_nopts_value()
                    ? nil : Rational(stream.pointee.time_base).times(stream.pointee.start_time).seconds)
            if kind == .video {
                info.width = Int(par.width)
                info.height = Int(par.height)
                let rate = av_guess_frame_rate(context, stream, nil)
                if rate.num > 0 && rate.den > 0 { info.frameRate = Rational(rate) }
                var size: Int = 0
                if let matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 {
                    let degrees = matrix.withMemoryRebound(to: Int32.self, capacity: 9) { av_display_rotation_get($0) }
                    info.rotation = degrees.isNaN ? 0 : (-degrees).truncatingRemainder(dividingBy: 360) + 0
                } else {
                    info.rotation = 0
                }
            }
            if kind == .audio {
                info.sampleRate = Int(par.sample_rate)
                var layout = par.ch_layout
                var buffer = [CChar](repeating: 0, count: 128)
                if av_channel_layout_describe(&layout, &buffer, buffer.count) > 0 {
                    info.channelLayout = String(
                        decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
            streams.append(info)
        }
        let duration =
            ctx.duration == reel_av_nopts_value() || ctx.duration <= 0
            ? nil : Double(ctx.duration) / Double(reel_av_time_base())
        return MediaInfo(
            container: formatName, duration: duration, bitRate: ctx.bit_rate > 0 ? Int(ctx.bit_rate) : nil,
            streams: streams, keyframes: keyframes ? try keyframeTimes() : nil)
    }

    /// Presentation times of the video keyframes, read packet by packet (no decoding).
    private func keyframeTimes() throws(MediaError) -> [Double] {
        guard let video = bestStream(AVMEDIA_TYPE_VIDEO) else { return [] }
        let timeBase = Rational(stream(video).pointee.time_base)
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var times: [Double] = []
        while true {
            let rc = av_read_frame(context, packet)
            if rc == reel_averror_eof() { break }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: path) }
            let p = packet!.pointee
            if Int(p.stream_index) == video, p.flags & AV_PKT_FLAG_KEY != 0, p.pts != reel_av_nopts_value() {
                times.append(timeBase.times(p.pts).seconds)
            }
            av_packet_unref(packet)
        }
        return times.sorted()
    }
}
