import CFFmpeg
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A media file being written: owns its `AVFormatContext` and I/O, writes under a temporary name and renames it
/// into place only when the trailer is written, so a crash never leaves a half file under the final name.
final class OutputFile {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String
    let temporaryPath: String
    /// Output stream index by input stream index.
    private(set) var streamMap: [Int: Int] = [:]
    private var finished = false

    /// An output whose streams copy `streams` (stream copy), header written.
    convenience init(
        path: String, format: String, copying streams: [UnsafeMutablePointer<AVStream>], inputIndices: [Int],
        options: [String: String] = [:]
    ) throws(MediaError) {
        try self.init(path: path, format: format)
        for (stream, inputIndex) in zip(streams, inputIndices) {
            let out = try addStream(copying: stream.pointee.codecpar, timeBase: stream.pointee.time_base)
            streamMap[inputIndex] = Int(out.pointee.index)
        }
        try begin(options: options)
    }

    /// An output with no streams yet: add them, then `begin`.
    init(path: String, format: String) throws(MediaError) {
        self.path = path
        try MediaEngine.requireLibraries(for: path)
        temporaryPath = path + ".partial"
        var context: UnsafeMutablePointer<AVFormatContext>?
        let rc = avformat_alloc_output_context2(&context, nil, format, temporaryPath)
        guard rc >= 0, let context else { throw MediaError.ffmpeg(rc, "cannot create a \(format) output", path: path) }
        self.context = context
    }

    /// Adds a stream with `parameters` (copied; the codec tag left to the muxer).
    @discardableResult
    func addStream(copying parameters: UnsafePointer<AVCodecParameters>, timeBase: AVRational) throws(MediaError)
        -> UnsafeMutablePointer<AVStream>
    {
        guard let out = avformat_new_stream(context, nil) else {
            throw MediaError(.ioError, "cannot add a stream", path: path)
        }
        let copied = avcodec_parameters_copy(out.pointee.codecpar, parameters)
        guard copied >= 0 else { throw MediaError.ffmpeg(copied, "cannot copy codec parameters", path: path) }
        out.pointee.codecpar.pointee.codec_tag = 0
        out.pointee.time_base = timeBase
        return out
    }

    /// Whether the container wants codec headers out of band (MP4, Matroska): encoders then need
    /// `AV_CODEC_FLAG_GLOBAL_HEADER`.
    var wantsGlobalHeader: Bool { context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 }

    /// Opens the file and writes the header; the muxer may change the streams' time bases.
    func begin(options: [String: String] = [:]) throws(MediaError) {
        let opened = avio_open(&context.pointee.pb, temporaryPath, AVIO_FLAG_WRITE)
        guard opened >= 0 else { throw MediaError.ffmpeg(opened, "cannot open for writing", path: temporaryPath) }
        var dictionary: OpaquePointer?
        for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
        defer { av_dict_free(&dictionary) }
        let header = avformat_write_header(context, &dictionary)
        guard header >= 0 else { throw MediaError.ffmpeg(header, "cannot write the header", path: path) }
    }

    deinit {
        if !finished {
            if context.pointee.pb != nil { avio_closep(&context.pointee.pb) }
            unlink(temporaryPath)
        }
        avformat_free_context(context)
    }

    /// Time base the muxer chose for output stream `index`.
    func timeBase(_ index: Int) -> AVRational { context.pointee.streams[index]!.pointee.time_base }

    /// Writes a packet already addressed to an output stream, timestamps in that stream's time base.
    func write(_ packet: UnsafeMutablePointer<AVPacket>) throws(MediaError) {
        let rc = av_interleaved_write_frame(context, packet)
        guard rc >= 0 else { throw MediaError.ffmpeg(rc, "cannot write a packet", path: path) }
    }

    /// Writes the trailer, closes the file and renames it into place; returns its size in bytes.
    func finish() throws(MediaError) -> Int {
        let trailer = av_write_trailer(context)
        avio_closep(&context.pointee.pb)
        guard trailer >= 0 else { throw MediaError.ffmpeg(trailer, "cannot write the trailer", path: path) }
        guard rename(temporaryPath, path) == 0 else {
            throw MediaError(
                .ioError, "cannot rename \(temporaryPath): \(String(cString: strerror(errno)))", path: path)
        }
        finished = true
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
