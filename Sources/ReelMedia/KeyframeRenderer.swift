import CFFmpeg

/// The `keyframe` render mode: joins ranges by stream copy into one MP4, fast and approximate. Each range runs
/// from the video keyframe at or before its start up to the first video packet *decoded* at or after its end — so
/// every kept frame has its references and decodes, at the cost of up to a GOP before the start and the reorder
/// delay past the end — with the audio presented in between; timestamps continue across ranges (decode
/// timestamps made up where Matroska has none), and the index is moved to the front (`+faststart`). Every source
/// must carry the same video and audio as the first (codec, size, sample rate, channels).
struct KeyframeRenderer {
    let cuts: [CutRange]
    let output: String

    private struct Signature: Equatable {
        var codec: AVCodecID
        var width: Int32, height: Int32
        var sampleRate: Int32, channels: Int32

        init?(_ stream: UnsafeMutablePointer<AVStream>?) {
            guard let p = stream?.pointee.codecpar.pointee else { return nil }
            codec = p.codec_id
            width = p.width
            height = p.height
            sampleRate = p.sample_rate
            channels = p.ch_layout.nb_channels
        }
    }

    func run() throws(MediaError) -> RenderResult {
        try validate(cuts, output: output)
        var readers: [String: CutReader] = [:]
        for cut in cuts where readers[cut.source] == nil { readers[cut.source] = try CutReader(path: cut.source) }
        let first = readers[cuts[0].source]!
        for cut in cuts {
            let reader = readers[cut.source]!
            guard Signature(reader.videoStream) == Signature(first.videoStream),
                Signature(reader.audioStream) == Signature(first.audioStream)
            else {
                throw MediaError(
                    .incompatible, "its streams differ from \(first.path)'s (codec, size, sample rate or channels)",
                    path: cut.source)
            }
        }
        let file = try OutputFile(path: output, format: "mp4")
        var outVideo: Int32 = -1
        var outAudio: Int32 = -1
        if let video = first.videoStream {
            let stream = try file.addStream(copying: video.pointee.codecpar, timeBase: video.pointee.time_base)
            outVideo = stream.pointee.index
            copySideData(from: video, to: stream, geometryOnly: false)
        }
        if let audio = first.audioStream {
            outAudio = try file.addStream(copying: audio.pointee.codecpar, timeBase: audio.pointee.time_base).pointee
                .index
        }
        try file.begin(options: ["movflags": "+faststart"])

        var cursor = 0.0  // seconds of output written so far
        var frames = 0
        var lastDTS: [Int32: Int64] = [:]
        for cut in cuts {
            let reader = readers[cut.source]!
            var rangeLast = 0.0  // latest end time written, seconds after the cut's keyframe
            try reader.copyRange(start: cut.start, end: cut.end) { packet, isVideo, keyTime throws(MediaError) in
                let inBase = (isVideo ? reader.video : reader.audio)!.timeBase
                let target = isVideo ? outVideo : outAudio
                // Move the range so its keyframe lands where the output stands.
                let shift = ticks(keyTime + reader.origin - cursor, inBase)
                packet.pointee.pts -= shift
                packet.pointee.dts -= shift
                let end = Rational(inBase).times(packet.pointee.pts + max(0, packet.pointee.duration)).seconds - cursor
                rangeLast = max(rangeLast, end)
                av_packet_rescale_ts(packet, inBase, file.timeBase(Int(target)))
                // Keep decode timestamps strictly increasing across the seam.
                if let last = lastDTS[target], packet.pointee.dts <= last { packet.pointee.dts = last + 1 }
                if packet.pointee.pts < packet.pointee.dts { packet.pointee.pts = packet.pointee.dts }
                lastDTS[target] = packet.pointee.dts
                packet.pointee.stream_index = target
                packet.pointee.pos = -1
                if isVideo { frames += 1 }
                try file.write(packet)
            }
            cursor += rangeLast
        }
        let bytes = try file.finish()
        return RenderResult(path: output, duration: cursor, bytes: bytes, mode: .keyframe, frames: frames)
    }
}

/// Copies `source`'s stream side data onto `target`: all of it for a stream copy, only the picture geometry
/// (display matrix, stereo 3D, spherical mapping) for an encoded stream — HDR mastering data would misdescribe
/// an 8-bit SDR encode.
func copySideData(
    from source: UnsafeMutablePointer<AVStream>, to target: UnsafeMutablePointer<AVStream>, geometryOnly: Bool
) {
    let geometry = [AV_PKT_DATA_DISPLAYMATRIX, AV_PKT_DATA_STEREO3D, AV_PKT_DATA_SPHERICAL]
    for i in 0..<Int(source.pointee.nb_side_data) {
        let item = source.pointee.side_data[i]
        guard !geometryOnly || geometry.contains(item.type), item.size > 0,
            let copy = av_stream_new_side_data(target, item.type, item.size)
        else { continue }
        copy.update(from: item.data, count: item.size)
    }
}
