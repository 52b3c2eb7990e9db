import CFFmpeg
import FoundationEssentials
import ReelSupport

/// What a demux pass over every packet of a file found.
public struct MediaVerification: Sendable, Equatable {
    /// Packets read, every stream.
    public var packets: Int
    /// Where the last video packet ends, seconds from the video stream's start.
    public var videoEnd: Double
    /// The video stream's length as its header declares it, when it does.
    public var declaredVideoDuration: Double?
}

extension MediaEngine {
    /// Reads every packet of `path` without decoding: a read error, a video stream without packets, or video that
    /// ends well before the length its header declares (a truncated download, a damaged index) is `invalidData`,
    /// so that ingest refuses the file in seconds instead of analysis failing on it later.
    public static func verify(_ path: String) async throws(MediaError) -> MediaVerification {
        try await offload { () throws(MediaError) in try InputFile(path: path).verify() }
    }
}

extension InputFile {
    /// How far short of its declared length the video may end: half a second, or 2 % of a long video.
    static func truncationTolerance(_ declared: Double) -> Double { max(0.5, declared * 0.02) }

    func verify() throws(MediaError) -> MediaVerification {
        guard let video = bestStream(AVMEDIA_TYPE_VIDEO) else {
            throw MediaError(.invalidData, "no video stream", path: path)
        }
        let stream = self.stream(video).pointee
        let timeBase = Rational(stream.time_base)
        let none = reel_av_nopts_value()
        let start = stream.start_time == none ? 0 : timeBase.times(stream.start_time).seconds
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var (packets, videoPackets, end) = (0, 0, 0.0)
        while true {
            let rc = av_read_frame(context, packet)
            if rc == reel_averror_eof() { break }
            guard rc >= 0 else {
                throw MediaError.ffmpeg(rc, cFormat("unreadable after %.2f s", end), path: path)
            }
            let p = packet!.pointee
            packets += 1
            if Int(p.stream_index) == video {
                videoPackets += 1
                let time = p.pts != none ? p.pts : p.dts
                if time != none {
                    end = max(end, timeBase.times(time + max(p.duration, 0)).seconds - start)
                }
            }
            av_packet_unref(packet)
        }
        guard videoPackets > 0 else { throw MediaError(.invalidData, "the video stream has no packets", path: path) }
        let declared = stream.duration != none && stream.duration > 0 ? timeBase.times(stream.duration).seconds : nil
        if let declared, end < declared - Self.truncationTolerance(declared) {
            throw MediaError(
                .invalidData,
                cFormat(
                    "the video ends at %.2f s of the %.2f s its header declares: the file is truncated or damaged",
                    end, declared), path: path)
        }
        return MediaVerification(packets: packets, videoEnd: end, declaredVideoDuration: declared)
    }
}
