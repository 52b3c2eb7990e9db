import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `printf`-style formatting (`"%.3f"`, `"%05d"`, `"%02X"`) through the C library, for modules that do without
/// Foundation's `String(format:)`.
public func cFormat(_ format: String, _ arguments: any CVarArg...) -> String {
    cFormat(format, arguments: arguments)
}

/// `cFormat` with the arguments in an array.
public func cFormat(_ format: String, arguments: [any CVarArg]) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    let needed = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
    guard needed >= 0 else { return "" }
    if Int(needed) >= buffer.count {
        buffer = [CChar](repeating: 0, count: Int(needed) + 1)
        _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
    }
    return String(decoding: buffer.prefix(Int(needed)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Paths as strings, as `NSString`'s path methods read them.
public enum Paths {
    /// The last component: "c" for "/a/b/c" and "/a/b/c/", "/" for "/".
    public static func lastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return "/" }
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    }

    /// The path without its last component: "/a/b" for "/a/b/c", "/" for "/a", "" for "a".
    public static func deletingLastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/", let slash = trimmed.lastIndex(of: "/") else { return trimmed == "/" ? "/" : "" }
        let parent = trimmingTrailingSlashes(String(trimmed[..<slash]))
        return parent.isEmpty ? "/" : parent
    }

    /// The last component's extension, without the dot: "mp4" for "/a/b.mp4", "" for "/a.d/b" or ".profile".
    public static func fileExtension(_ path: String) -> String {
        let last = lastComponent(path)
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return "" }
        return String(last[last.index(after: dot)...])
    }

    /// `component` appended with one slash between.
    public static func appending(_ path: String, _ component: String) -> String {
        path.isEmpty ? component : path.hasSuffix("/") ? path + component : path + "/" + component
    }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}

/// Percent-encoding (RFC 3986) without Foundation's `CharacterSet`.
public enum PercentEncoding {
    /// `text` with every byte outside the unreserved characters and `allowed` written as `%XX`.
    public static func encode(_ text: String, allowing allowed: String) -> String {
        let keep = Set(allowed.utf8)
        var out = ""
        for byte in text.utf8 {
            let unreserved =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if unreserved || keep.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte & 0x0F)]))
            }
        }
        return out
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// What a URL path may hold unescaped besides the unreserved characters (Foundation's `urlPathAllowed`).
    public static let pathAllowed = "!$&'()*+,;=:@/"

    /// `text` with each `%XX` decoded; `nil` when an escape is malformed or the bytes are not UTF-8.
    public static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == 0x25 else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, line breaks).
    public var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}

/// What went wrong, for a message: the system's words for a file system error ("No such file or directory",
/// naming the path when it is not the one asked for), else the error as Swift describes it.
public func describe(_ error: any Error) -> String {
    if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    guard let cocoa = error as? CocoaError else { return "\(error)" }
    let reason =
        (cocoa.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? "\(cocoa.code)"
    return cocoa.filePath.map { "\($0): \(reason)" } ?? reason
}
