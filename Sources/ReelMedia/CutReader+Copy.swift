import CFFmpeg

/// Stream copy for the `smart` and `keyframe` render modes: packets as stored, keyframe facts.
extension CutReader {
    /// The video packets from the keyframe whose timestamp is `from` up to (not including) the one at `until`,
    /// in decode order, as stored; audio frames overlapping [from, `audioEnd`) decoded
    /// alongside. Both in ticks and seconds of the reader's streams.
    func copy(
        from: Int64, until: Int64, audioEnd: Double,
        onPacket: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Void,
        onAudio: (UnsafeMutablePointer<AVFrame>, Double) throws(MediaError) -> Void
    ) throws(MediaError) {
        guard let video else { return }
        try seek(to: seconds(from, video.timeBase) - 0.25)
        audio?.flush()
        var started = false
        var videoDone = false
        var audioDone = audio == nil
        let frame = frame!
        try readPackets { packet throws(MediaError) in
            let index = Int(packet.pointee.stream_index)
            if index == video.streamIndex, !videoDone {
                let key = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
                if !started {
                    guard key, packet.pointee.pts == from else { return true }
                    started = true
                } else if key, packet.pointee.pts == until {
                    videoDone = true
                    return !audioDone
                }
                try onPacket(packet)
            } else if let audio, index == audio.streamIndex, !audioDone {
                try audio.decode(packet, into: frame, path: path) { f throws(MediaError) in
                    guard !audioDone, let ticks = presentationTicks(f) else { return }
                    let t = seconds(ticks, audio.timeBase)
                    if t >= audioEnd { audioDone = true } else { try onAudio(f, t) }
                }
            }
            return !(videoDone && audioDone)
        }
        guard started else {
            throw MediaError(.invalidData, "no keyframe at \(seconds(from, video.timeBase)) s", path: path)
        }
    }

    /// Stream copy of [start, end): the video packets in decode order from the keyframe at or before `start` up
    /// to the first one decoded at or after `end`, and the audio packets presented from that keyframe to `end`.
    /// `onPacket` gets each packet as stored (a decode timestamp made up from the reorder delay where the container
    /// has none), whether it is video, and the keyframe's time.
    func copyRange(
        start: Double, end: Double,
        onPacket: (UnsafeMutablePointer<AVPacket>, Bool, Double) throws(MediaError) -> Void
    ) throws(MediaError) {
        let delay = try reorderDelay()
        var back = 0.0
        while true {
            if try copyAttempt(start: start, end: end, seekBack: back, delay: delay, onPacket: onPacket) { return }
            back = max(1, back * 4)
        }
    }

    private func copyAttempt(
        start: Double, end: Double, seekBack: Double, delay: Int64,
        onPacket: (UnsafeMutablePointer<AVPacket>, Bool, Double) throws(MediaError) -> Void
    ) throws(MediaError) -> Bool {
        let target = max(0, start - seekBack)
        try seek(to: target)
        var keyTime: Double? = video == nil ? start : nil
        var videoDone = video == nil
        var audioDone = audio == nil
        var late = false
        try readPackets { packet throws(MediaError) in
            let index = Int(packet.pointee.stream_index)
            guard packet.pointee.pts != reel_av_nopts_value() else { return true }
            if let video, index == video.streamIndex, !videoDone {
                let t = seconds(packet.pointee.pts, video.timeBase)
                if keyTime == nil {
                    guard packet.pointee.flags & AV_PKT_FLAG_KEY != 0 else { return true }
                    // The seek landed past the keyframe before `start`: go further back.
                    if t > start + tolerance(video.timeBase), target > 0 {
                        late = true
                        return false
                    }
                    keyTime = t
                }
                if packet.pointee.dts == reel_av_nopts_value() { packet.pointee.dts = packet.pointee.pts - delay }
                if seconds(packet.pointee.dts, video.timeBase) >= end - tolerance(video.timeBase) {
                    videoDone = true
                } else {
                    try onPacket(packet, true, keyTime!)
                }
            } else if let audio, index == audio.streamIndex, !audioDone, let keyTime {
                let t = seconds(packet.pointee.pts, audio.timeBase)
                if t >= end {
                    audioDone = true
                } else if t >= keyTime {
                    if packet.pointee.dts == reel_av_nopts_value() { packet.pointee.dts = packet.pointee.pts }
                    try onPacket(packet, false, keyTime)
                }
            }
            return !(videoDone && audioDone)
        }
        if late { return false }
        guard keyTime != nil else { throw MediaError(.invalidData, "no keyframe at or before \(start) s", path: path) }
        return true
    }

    /// The largest distance from a video packet's decode time to its presentation time over the first packets
    /// (the B-frame delay), in video ticks.
    private func reorderDelay() throws(MediaError) -> Int64 {
        if let known = delay { return known }
        var found: Int64 = 0
        if let video {
            try seek(to: 0)
            var seen = 0
            try readPackets { packet in
                guard Int(packet.pointee.stream_index) == video.streamIndex,
                    packet.pointee.pts != reel_av_nopts_value(),
                    packet.pointee.dts != reel_av_nopts_value()
                else { return true }
                found = max(found, packet.pointee.pts - packet.pointee.dts)
                seen += 1
                return seen < 64
            }
        }
        delay = found
        return found
    }

    /// Every IDR keyframe's timestamp (sorted) and the largest distance from a video packet's decode time to its
    /// presentation time (the B-frame delay), from one pass over the packets; `lengthSize` is the `avcC` NAL
    /// length size.
    func idrKeyframes(lengthSize: Int) throws(MediaError) -> (keys: [Int64], delay: Int64) {
        guard let video else { return ([], 0) }
        try seek(to: 0)
        var keys: [Int64] = []
        var delay: Int64 = 0
        try readPackets { packet in
            guard Int(packet.pointee.stream_index) == video.streamIndex, packet.pointee.pts != reel_av_nopts_value()
            else {
                return true
            }
            if packet.pointee.dts != reel_av_nopts_value() {
                delay = max(delay, packet.pointee.pts - packet.pointee.dts)
            }
            if packet.pointee.flags & AV_PKT_FLAG_KEY != 0,
                H264.isIDR(
                    UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)),
                    lengthSize: lengthSize)
            {
                keys.append(packet.pointee.pts)
            }
            return true
        }
        return (keys.sorted(), delay)
    }
}
