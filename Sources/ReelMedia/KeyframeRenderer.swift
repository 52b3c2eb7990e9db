import CFFmpeg
import Foundation

/// The `keyframe` render mode: joins ranges by stream copy into one MP4, fast and approximate: each range runs from the video keyframe at or before its start up to
/// the first video packet *decoded* at or after its end — so every kept frame has its references and decodes,
/// at the cost of at most the reorder delay past the end — timestamps continue across ranges, and the index is
/// moved to the front (`+faststart`). Every source must carry the same streams as the first.
struct KeyframeRenderer {
    let cuts: [CutRange]
    let output: String

    private struct Signature: Equatable {
        var codec: AVCodecID
        var width: Int32, height: Int32
        var sampleRate: Int32, channels: Int32
    }

    private static func signature(_ stream: UnsafeMutablePointer<AVStream>) -> Signature {
        let p = stream.pointee.codecpar.pointee
        return Signature(codec: p.codec_id, width: p.width, height: p.height, sampleRate: p.sample_rate, channels: p.ch_layout.nb_channels)
    }

    func run() throws(MediaError) -> RenderResult {
        try validate(cuts, output: output)
        let first = cuts[0]
        let firstInput = try InputFile(path: first.source)
        let layout = Self.streams(firstInput)
        guard !layout.isEmpty else { throw MediaError(.unsupported, "no audio or video stream", path: first.source) }
        let file = try OutputFile(
            path: output, format: "mp4", copying: layout.map { firstInput.stream($0) }, inputIndices: Array(0..<layout.count),
            options: ["movflags": "+faststart"])
        var cursor = 0.0  // seconds of output written so far
        var frames = 0
        var lastDTS = [Int64](repeating: Int64.min, count: layout.count)
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }

        for cut in cuts {
            let input = cut.source == first.source ? firstInput : try InputFile(path: cut.source)
            let streams = Self.streams(input)
            guard streams.count == layout.count,
                zip(streams, layout).allSatisfy({ Self.signature(input.stream($0)) == Self.signature(firstInput.stream($1)) })
            else {
                throw MediaError(
                    .incompatible, "its streams differ from \(first.source)'s (codec, size, sample rate or channels)",
                    path: cut.source)
            }
            let reference = streams[0]  // video first when there is video
            let refStream = input.stream(reference)
            let refBase = refStream.pointee.time_base
            let isVideo = refStream.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
            let origin = refStream.pointee.start_time == reel_av_nopts_value() ? 0 : refStream.pointee.start_time
            let startTicks = origin + Int64(cut.start / Rational(refBase).seconds)
            let endTicks = origin + Int64(cut.end / Rational(refBase).seconds)
            let seek = av_seek_frame(input.context, Int32(reference), startTicks, AVSEEK_FLAG_BACKWARD)
            guard seek >= 0 else { throw MediaError.ffmpeg(seek, "cannot seek to \(cut.start) s", path: cut.source) }

            var rangeStart: Int64?  // reference ticks of the keyframe the range starts at
            var rangeLast = 0.0  // latest end time written, seconds relative to rangeStart
            reading: while true {
                let rc = av_read_frame(input.context, packet)
                if rc == reel_averror_eof() { break }
                guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: cut.source) }
                defer { av_packet_unref(packet) }
                let p = packet!
                guard let slot = streams.firstIndex(of: Int(p.pointee.stream_index)), p.pointee.pts != reel_av_nopts_value() else {
                    continue
                }
                let inBase = input.stream(Int(p.pointee.stream_index)).pointee.time_base
                if slot == 0 {
                    let key = !isVideo || p.pointee.flags & AV_PKT_FLAG_KEY != 0
                    if rangeStart == nil {
                        guard key else { continue }
                        rangeStart = p.pointee.pts
                    } else if (p.pointee.dts == reel_av_nopts_value() ? p.pointee.pts : p.pointee.dts) >= endTicks {
                        break reading
                    }
                }
                guard let rangeStart else { continue }
                let ptsRef = av_rescale_q(p.pointee.pts, inBase, refBase)
                if ptsRef < rangeStart || (slot != 0 && ptsRef >= endTicks) { continue }
                // Shift this range so it starts where the output stands.
                let shift = av_rescale_q(rangeStart, refBase, inBase) - Int64(cursor / Rational(inBase).seconds)
                p.pointee.pts -= shift
                if p.pointee.dts != reel_av_nopts_value() { p.pointee.dts -= shift }
                let end = Rational(inBase).times(p.pointee.pts + max(0, p.pointee.duration)).seconds - cursor
                rangeLast = max(rangeLast, end)
                av_packet_rescale_ts(p, inBase, file.timeBase(slot))
                // Keep decode timestamps strictly increasing across the seam.
                if p.pointee.dts != reel_av_nopts_value() {
                    if p.pointee.dts <= lastDTS[slot] { p.pointee.dts = lastDTS[slot] + 1 }
                    if p.pointee.pts < p.pointee.dts { p.pointee.pts = p.pointee.dts }
                    lastDTS[slot] = p.pointee.dts
                }
                p.pointee.stream_index = Int32(slot)
                p.pointee.pos = -1
                if slot == 0 && isVideo { frames += 1 }
                try file.write(p)
            }
            guard rangeStart != nil else {
                throw MediaError(.invalidData, "no keyframe at or before \(cut.start) s", path: cut.source)
            }
            cursor += rangeLast
        }
        let bytes = try file.finish()
        return RenderResult(path: output, duration: cursor, bytes: bytes, mode: .keyframe, frames: frames)
    }

    /// The video stream first (if any), then the audio streams.
    private static func streams(_ input: InputFile) -> [Int] {
        let video = input.bestStream(AVMEDIA_TYPE_VIDEO).map { [$0] } ?? []
        let audio = (0..<input.streamCount).filter { input.stream($0).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO }
        return video + audio
    }
}
