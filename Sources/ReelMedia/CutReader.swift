import CFFmpeg

/// Decodes ranges of one source: the video frames whose presentation time lies in [start, end) and the audio
/// frames that overlap it. Times are seconds from the source's origin — the video stream's start time, as the
/// split and the scene detector count them — so a TS file starting at 1.4 s or an MP4 with an edit list cut
/// the same way. Seeks land on a keyframe before the start; if a container's index puts it after (MPEG-TS
/// seeks by timestamp guesses), the reader seeks further back until the first frame is not late.
final class CutReader {
    private(set) var input: InputFile
    let video: Decoder?
    let audio: Decoder?
    /// The source's time 0, in seconds of its streams' timestamps.
    let origin: Double
    private var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
    private(set) var frame: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    /// The video's B-frame delay, once measured.
    var delay: Int64?

    init(path: String) throws(MediaError) {
        let input = try InputFile(path: path)
        self.input = input
        let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO)
        let audioIndex = input.bestStream(AVMEDIA_TYPE_AUDIO)
        guard videoIndex != nil || audioIndex != nil else {
            throw MediaError(.unsupported, "no audio or video stream", path: path)
        }
        video = try videoIndex.map { index throws(MediaError) in
            try Decoder(input, stream: index) { $0.pointee.thread_type = 1 | 2 }  // frame and slice threads
        }
        audio = try audioIndex.map { index throws(MediaError) in try Decoder(input, stream: index) }
        let reference = input.stream(videoIndex ?? audioIndex!)
        origin =
            reference.pointee.start_time == reel_av_nopts_value()
            ? 0 : Rational(reference.pointee.time_base).times(reference.pointee.start_time).seconds
    }

    deinit {
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    var path: String { input.path }
    var videoStream: UnsafeMutablePointer<AVStream>? { video.map { input.stream($0.streamIndex) } }
    var audioStream: UnsafeMutablePointer<AVStream>? { audio.map { input.stream($0.streamIndex) } }

    /// Seconds a timestamp of `timeBase` lies after the origin.
    func seconds(_ ticks: Int64, _ timeBase: AVRational) -> Double {
        Rational(timeBase).times(ticks).seconds - origin
    }

    /// How far from a boundary a frame time may be and still count as on it: timestamps are rounded to their
    /// time base (a millisecond in Matroska), timelines to microseconds.
    func tolerance(_ timeBase: AVRational) -> Double { max(0.001, Rational(timeBase).seconds) }

    /// Decodes [start, end): `onVideo` gets each frame in the range and its time, `onAudio` each audio frame that
    /// overlaps it (the receiver trims). Frames are only valid during the call.
    func read(
        start: Double, end: Double,
        onVideo: (UnsafeMutablePointer<AVFrame>, Double) throws(MediaError) -> Void,
        onAudio: (UnsafeMutablePointer<AVFrame>, Double) throws(MediaError) -> Void
    ) throws(MediaError) {
        var back = 0.25  // seconds before `start` to seek to: audio is often stored a little ahead of video
        while true {
            if try attempt(start: start, end: end, seekBack: back, onVideo: onVideo, onAudio: onAudio) { return }
            back = back * 4
        }
    }

    /// One pass; false when the first video frame came after `start` (the seek landed late) and an earlier seek
    /// is possible — nothing was handed out then.
    private func attempt(
        start: Double, end: Double, seekBack: Double,
        onVideo: (UnsafeMutablePointer<AVFrame>, Double) throws(MediaError) -> Void,
        onAudio: (UnsafeMutablePointer<AVFrame>, Double) throws(MediaError) -> Void
    ) throws(MediaError) -> Bool {
        let target = max(0, start - seekBack)
        try seek(to: target)
        video?.flush()
        audio?.flush()
        var videoDone = video == nil
        var audioDone = audio == nil
        var checked = video == nil || target == 0
        let vtol = video.map { tolerance($0.timeBase) } ?? 0
        let frame = frame!

        func takeVideo(_ f: UnsafeMutablePointer<AVFrame>) throws(MediaError) -> Bool {
            guard !videoDone, let video, let ticks = presentationTicks(f) else { return true }
            let t = seconds(ticks, video.timeBase)
            if !checked {
                if t > start + vtol { return false }
                checked = true
            }
            if t < start - vtol { return true }
            if t >= end - vtol {
                videoDone = true
                return true
            }
            try onVideo(f, t)
            return true
        }
        func takeAudio(_ f: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
            guard !audioDone, let audio, let ticks = presentationTicks(f) else { return }
            let t = seconds(ticks, audio.timeBase)
            let length = Double(f.pointee.nb_samples) / Double(max(1, f.pointee.sample_rate))
            if t >= end {
                audioDone = true
            } else if t + length > start {
                try onAudio(f, t)
            }
        }

        var late = false
        let gate = KeyframeGate(start: start + vtol)
        func decodeVideo(_ packet: UnsafeMutablePointer<AVPacket>?) throws(MediaError) {
            guard let video, !late, !videoDone else { return }
            try video.decode(packet, into: frame, path: path) { f throws(MediaError) in
                if !late, try !takeVideo(f) { late = true }
            }
        }
        try readPackets { packet throws(MediaError) in
            let index = Int(packet.pointee.stream_index)
            if let video, index == video.streamIndex, !videoDone {
                let ticks = packet.pointee.pts != reel_av_nopts_value() ? packet.pointee.pts : packet.pointee.dts
                let time = ticks == reel_av_nopts_value() ? nil : seconds(ticks, video.timeBase)
                try gate.pass(packet, time: time, decode: decodeVideo)
            } else if let audio, index == audio.streamIndex, !audioDone {
                try audio.decode(packet, into: frame, path: path) { f throws(MediaError) in try takeAudio(f) }
            }
            return !late && !(videoDone && audioDone)
        }
        if late { return false }
        // The end of the file: what the gate holds, then what the decoders still hold.
        if video != nil, !videoDone {
            try gate.flush(decode: decodeVideo)
            try decodeVideo(nil)
            if late { return false }
        }
        // No video frame at all after the seek: it landed past the last keyframe before the range.
        if !checked { return false }
        if let audio, !audioDone {
            try audio.decode(nil, into: frame, path: path) { f throws(MediaError) in try takeAudio(f) }
        }
        return true
    }

    /// Seeks every stream to the keyframe at or before `seconds`; for 0, opens the file afresh, the one start
    /// every container agrees on (MPEG-TS timestamp seeks can land past the first keyframe, byte 0 of Matroska
    /// is its header).
    func seek(to seconds: Double) throws(MediaError) {
        if seconds <= 0 {
            input = try InputFile(path: path)
            return
        }
        let reference = video ?? audio!
        let base = Rational(reference.timeBase)
        let ticks = Int64(((seconds + origin) * Double(base.denominator) / Double(base.numerator)).rounded(.down))
        // Some containers cannot seek below their first timestamp, or by time at all: start from the beginning.
        if av_seek_frame(input.context, Int32(reference.streamIndex), ticks, AVSEEK_FLAG_BACKWARD) < 0 {
            input = try InputFile(path: path)
        }
    }

    /// Reads packets from where the file stands, handing each to `body` (unreferenced after it returns), until
    /// the end of the file or until `body` returns false.
    func readPackets(_ body: (UnsafeMutablePointer<AVPacket>) throws(MediaError) -> Bool) throws(MediaError) {
        let packet = packet!
        while true {
            let rc = av_read_frame(input.context, packet)
            if rc == reel_averror_eof() { return }
            guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot read a packet", path: path) }
            defer { av_packet_unref(packet) }
            guard try body(packet) else { return }
        }
    }
}
