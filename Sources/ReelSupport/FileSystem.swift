import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Paths {
    /// `path` made absolute against the working directory, then standardized.
    public static func absolute(_ path: String) -> String {
        standardized(path.hasPrefix("/") ? path : currentDirectory() + "/" + path)
    }

    /// An absolute path as `NSString.standardizingPath` gives it: a leading `~` expanded, `.`, `..` and repeated
    /// slashes folded (never above `/`), no trailing slash, and the longest part of it that exists with its
    /// symlinks resolved. A relative path comes back as it is, without a trailing slash.
    public static func standardized(_ path: String) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/"), let home = getenv("HOME") {
            path = String(cString: home) + path.dropFirst()
        }
        guard path.hasPrefix("/") else {
            while path.count > 1, path.hasSuffix("/") { path.removeLast() }
            return path
        }
        let parts = foldedComponents(path)
        // The longest existing prefix, its symlinks resolved, followed by the parts that do not exist yet.
        var existing = parts.count
        while existing > 0 {
            let prefix = "/" + parts[..<existing].joined(separator: "/")
            if let resolved = realpath(prefix, nil) {
                defer { free(resolved) }
                let real = String(cString: resolved)
                let rest = parts[existing...].joined(separator: "/")
                return rest.isEmpty ? real : (real == "/" ? "/" : real + "/") + rest
            }
            existing -= 1
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` as an absolute path with `.`, `..` and repeated slashes folded (never above `/`), without looking at
    /// the file system.
    public static func folded(_ path: String) -> String { "/" + foldedComponents(path).joined(separator: "/") }

    private static func foldedComponents(_ path: String) -> [Substring] {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return parts
    }

    /// The working directory.
    public static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return "." }
        defer { free(buffer) }
        return String(cString: buffer)
    }

    /// The entries under `directory`, depth first in the order the directory lists them, as paths relative to it.
    /// Entries whose name starts with a dot are left out and hidden directories are not entered; symlinks to
    /// directories are listed but not followed. Missing or unreadable directories give nothing.
    public static func walk(_ directory: String) -> [(relative: String, isDirectory: Bool)] {
        var entries: [(relative: String, isDirectory: Bool)] = []
        walk(directory, relative: "", into: &entries)
        return entries
    }

    private static func walk(
        _ directory: String, relative: String, into entries: inout [(relative: String, isDirectory: Bool)]
    ) {
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            let child = relative.isEmpty ? name : relative + "/" + name
            entries.append((child, isDirectory))
            if isDirectory { walk(path, relative: child, into: &entries) }
        }
    }
}

/// Standard output, written through the C library's descriptor rather than `FileHandle`.
public enum StandardOutput {
    /// Writes all of `text` to descriptor 1 (retrying short writes); errors (a closed pipe) are dropped.
    public static func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { systemWrite(1, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
