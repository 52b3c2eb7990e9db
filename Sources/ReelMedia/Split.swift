import CFFmpeg
import FoundationEssentials
import ReelSupport

/// One chunk written by `split`.
public struct Chunk: Sendable, Codable, Equatable {
    public var index: Int
    public var path: String
    /// Where the chunk starts in the source: exact, in the reference stream's time base, and in seconds.
    public var startExact: Rational
    public var start: Double
    public var duration: Double
    public var bytes: Int
}

/// Splits by stream copy into chunks that each start at a video keyframe (closed-GOP/IDR for H.264/HEVC, as
/// FFmpeg flags them) at or after a boundary, keep every audio and video stream, and play alone from time 0.
/// Packets stream through one at a time, so memory stays flat in the file's size.
struct Splitter {
    let input: InputFile
    let targetSeconds: Double
    let maxBytes: Int
    let outputDirectory: String

    /// The muxer and file extension for the chunks of an input container.
    static func outputFormat(for container: String, videoCodec: String?) -> (format: String, ext: String) {
        if container.contains("mp4") || container.contains("mov") { return ("mp4", "mp4") }
        if container.contains("mpegts") { return ("mpegts", "ts") }
        if container.contains("webm"),
            videoCodec == "vp9" || videoCodec == "vp8" || videoCodec == "av1" || videoCodec == nil
        {
            return ("webm", "webm")
        }
        return ("matroska", "mkv")
    }

    private struct Open {
        var file: OutputFile
        var index: Int
        var startTicks: Int64  // reference-stream ticks where the chunk starts
        var bytes = 0
        var referencePackets = 0
    }

    func run() throws(MediaError) -> [Chunk] {
        let kept = (0..<input.streamCount).filter {
            let type = input.stream($0).pointee.codecpar.pointee.codec_type
            return type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO
        }
        guard !kept.isEmpty else { throw MediaError(.unsupported, "no audio or video stream", path: input.path) }
        let reference = input.bestStream(AVMEDIA_TYPE_VIDEO) ?? input.bestStream(AVMEDIA_TYPE_AUDIO) ?? kept[0]
        let referenceTimeBase = input.stream(reference).pointee.time_base
        let referenceIsVideo = input.stream(reference).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
        let videoCodec =
            referenceIsVideo
            ? String(cString: avcodec_get_name(input.stream(reference).pointee.codecpar.pointee.codec_id)) : nil
        let (format, ext) = Self.outputFormat(for: input.formatName, videoCodec: videoCodec)
        let rb = Rational(referenceTimeBase)
        let targetTicks = max(1, Int64((targetSeconds / rb.seconds).rounded()))

        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var chunks: [Chunk] = []
        var current: Open?
        var endTicks: Int64 = 0  // latest pts + duration seen on the reference stream
        var firstTicks: Int64?

        func open(at ticks: Int64) throws(MediaError) -> Open {
            let index = chunks.count  // the previous chunk is always closed first
            let path = Paths.appending(outputDirectory, cFormat("%05ld.", index) + ext)
            let file = try OutputFile(
                path: path, format: format, copying: kept.map { input.stream($0) }, inputIndices: kept)
            return Open(file: file, index: index, startTicks: ticks)
        }

        func close(_ chunk: Open, endTicks: Int64) throws(MediaError) {
            let bytes = try chunk.file.finish()
            let start = rb.times(chunk.startTicks - (firstTicks ?? 0))
            chunks.append(
                Chunk(
                    index: chunk.index, path: chunk.file.path, startExact: start, start: start.seconds,
                    duration: rb.times(endTicks - chunk.startTicks).seconds, bytes: bytes))
        }

        // Packets of other streams read before the first reference packet wait for it: the first chunk starts
        // where the reference stream does.
        var early: [UnsafeMutablePointer<AVPacket>?] = []
        defer { for var held in early { av_packet_free(&held) } }

        func write(_ p: UnsafeMutablePointer<AVPacket>, to chunk: inout Open) throws(MediaError) {
            let streamIndex = Int(p.pointee.stream_index)
            guard let outIndex = chunk.file.streamMap[streamIndex] else { return }
            let inTimeBase = input.stream(streamIndex).pointee.time_base
            // Shift every stream by the chunk's start so the chunk plays from 0, keeping the streams in sync.
            let offset = av_rescale_q(chunk.startTicks, referenceTimeBase, inTimeBase)
            if p.pointee.pts != reel_av_nopts_value() { p.pointee.pts -= offset }
            if p.pointee.dts != reel_av_nopts_value() { p.pointee.dts -= offset }
            av_packet_rescale_ts(p, inTimeBase, chunk.file.timeBase(outIndex))
            p.pointee.stream_index = Int32(outIndex)
            p.pointee.pos = -1
            chunk.bytes += Int(p.pointee.size)
            if streamIndex == reference { chunk.referencePackets += 1 }
            try chunk.file.write(p)
        }

        while true {
            let rc = av_read_frame(input.context, packet)
            if rc == reel_averror_eof() { break }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: input.path) }
            defer { av_packet_unref(packet) }
            let p = packet!
            let streamIndex = Int(p.pointee.stream_index)
            // A packet cut short (the file ends inside it) would leave a chunk that does not decode.
            guard kept.contains(streamIndex), p.pointee.flags & AV_PKT_FLAG_CORRUPT == 0 else { continue }
            // Timestamps past ±2^52 ticks (a damaged file) would overflow the arithmetic below.
            guard Self.inRange(p.pointee.pts), Self.inRange(p.pointee.dts), (0...1 << 40).contains(p.pointee.duration)
            else {
                throw MediaError(
                    .invalidData,
                    "a packet of stream \(streamIndex) has timestamps out of any sane range (pts \(p.pointee.pts), "
                        + "duration \(p.pointee.duration)): the file is damaged", path: input.path)
            }
            let isReference = streamIndex == reference

            if isReference, p.pointee.pts != reel_av_nopts_value() {
                let pts = p.pointee.pts
                if firstTicks == nil { firstTicks = pts }
                let isKey = !referenceIsVideo || p.pointee.flags & AV_PKT_FLAG_KEY != 0
                if let chunk = current, isKey, chunk.referencePackets > 0 {
                    let boundary = chunk.startTicks + targetTicks
                    if pts >= boundary || chunk.bytes + Int(p.pointee.size) > maxBytes {
                        try close(chunk, endTicks: pts)
                        current = try open(at: pts)
                    }
                }
                endTicks = max(endTicks, pts + max(0, p.pointee.duration))
            }
            if current == nil {
                guard let start = firstTicks else {
                    early.append(av_packet_clone(p))
                    continue
                }
                var first = try open(at: start)
                for held in early { if let held { try write(held, to: &first) } }
                current = first
            }
            guard var chunk = current else { continue }
            try write(p, to: &chunk)
            current = chunk
        }
        let earliest = early.lazy.compactMap { $0?.pointee.pts }.first { $0 != reel_av_nopts_value() }
        if current == nil, !early.isEmpty {
            // A stream with no reference timestamps at all: one chunk of what there is.
            var only = try open(at: firstTicks ?? earliest ?? 0)
            for held in early { if let held { try write(held, to: &only) } }
            current = only
        }
        guard let last = current else { throw MediaError(.invalidData, "no packets", path: input.path) }
        try close(last, endTicks: endTicks)
        return chunks
    }

    /// A packet timestamp that is either absent or within ±2^52 ticks.
    static func inRange(_ ticks: Int64) -> Bool {
        ticks == reel_av_nopts_value() || (-(1 << 52)...(1 << 52)).contains(ticks)
    }
}
