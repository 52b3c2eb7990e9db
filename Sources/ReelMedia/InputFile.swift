import CFFmpeg
import FoundationEssentials

/// An opened media file: owns its `AVFormatContext` and closes it in `deinit`. Not thread-safe; used by one
/// operation at a time, off Swift's cooperative threads (see `MediaEngine`).
final class InputFile {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String

    init(path: String) throws(MediaError) {
        self.path = path
        try MediaEngine.requireLibraries(for: path)
        // A file, or an object of Reel's own store through a presigned URL (read by range, never copied whole).
        let remote = path.hasPrefix("http://") || path.hasPrefix("https://")
        guard remote || FileManager.default.fileExists(atPath: path) else {
            throw MediaError(.notFound, "no such file", path: path)
        }
        if !remote, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw MediaError(.invalidData, "the file is empty", path: path)
        }
        var context: UnsafeMutablePointer<AVFormatContext>?
        let opened = avformat_open_input(&context, path, nil, nil)
        guard opened >= 0, let context else { throw MediaError.ffmpeg(opened, "cannot open", path: path) }
        let found = avformat_find_stream_info(context, nil)
        guard found >= 0 else {
            var doomed: UnsafeMutablePointer<AVFormatContext>? = context
            avformat_close_input(&doomed)
            throw MediaError.ffmpeg(found, "cannot read stream information", path: path)
        }
        self.context = context
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&doomed)
    }

    var streamCount: Int { Int(context.pointee.nb_streams) }

    func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

    /// Moves reading to the keyframe of stream `index` at or before `seconds` (by decoding time); false if the
    /// container cannot.
    func seekBackward(_ index: Int, to seconds: Double) -> Bool {
        av_seek_frame(context, Int32(index), max(0, ticks(index, seconds)), AVSEEK_FLAG_BACKWARD) >= 0
    }

    /// Moves to byte `position` of the file (where a packet starts) and forgets what the demuxer had read.
    func seek(toByte position: Int64) -> Bool {
        av_seek_frame(context, -1, position, AVSEEK_FLAG_BYTE) >= 0
    }

    /// Whether the demuxer holds an index of stream `index` (MP4 and Matroska from the start; MPEG-TS none).
    func hasIndex(_ index: Int) -> Bool { avformat_index_get_entry(stream(index), 0) != nil }

    /// The time of stream `index`'s keyframe at or before `seconds` in the demuxer's index, if it keeps one.
    func indexedKeyframe(_ index: Int, atOrBefore seconds: Double) -> Double? {
        let entry = av_index_search_timestamp(stream(index), ticks(index, seconds), AVSEEK_FLAG_BACKWARD)
        guard entry >= 0, let found = avformat_index_get_entry(stream(index), entry) else { return nil }
        return Rational(stream(index).pointee.time_base).times(found.pointee.timestamp).seconds
    }

    /// `seconds` in stream `index`'s time base, rounded down.
    private func ticks(_ index: Int, _ seconds: Double) -> Int64 {
        Int64((seconds / Rational(stream(index).pointee.time_base).seconds).rounded(.down))
    }

    /// The index of the best stream of `type`, or `nil`.
    func bestStream(_ type: AVMediaType) -> Int? {
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        return index >= 0 ? Int(index) : nil
    }

    /// The short name of the container ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts").
    var formatName: String { String(cString: context.pointee.iformat.pointee.name) }
}
