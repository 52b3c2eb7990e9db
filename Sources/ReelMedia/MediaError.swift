import CFFmpeg

/// A media failure: a code Reel can branch on, FFmpeg's own message, and the file it is about.
public struct MediaError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Not a media file, or a damaged one (FFmpeg's AVERROR_INVALIDDATA and the like).
        case invalidData
        /// A codec, container or stream layout Reel cannot handle.
        case unsupported
        /// The file cannot be read or written.
        case ioError
        /// The file does not exist.
        case notFound
        /// Inputs that cannot be joined (different streams or codecs).
        case incompatible
    }

    public var code: Code
    public var message: String
    /// The file the error is about.
    public var path: String
    /// FFmpeg's error code, when it gave one.
    public var averror: Int32?

    public init(_ code: Code, _ message: String, path: String, averror: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.averror = averror
    }

    public var description: String { "\(path): \(code.rawValue): \(message)" }

    /// The error for an FFmpeg return code.
    static func ffmpeg(_ rc: Int32, _ what: String, path: String) -> MediaError {
        var buffer = [CChar](repeating: 0, count: 256)
        av_strerror(rc, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let code: Code
        switch rc {
        case reel_averror(ENOENT): code = .notFound
        case reel_averror(EACCES), reel_averror(EIO), reel_averror(ENOSPC): code = .ioError
        case reel_averror_invaliddata(), reel_averror_eof(): code = .invalidData
        default: code = rc == reel_averror(ENOSYS) ? .unsupported : .invalidData
        }
        return MediaError(code, "\(what): \(text)", path: path, averror: rc)
    }
}
