import FoundationEssentials
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The directories `file://` URIs may name. A path is checked twice: as written (after `.`/`..` are folded) and
/// after symlinks are resolved, so neither `..` nor a symlink leads out of a root.
public struct AllowedRoots: Sendable, Equatable {
    public let roots: [String]

    public init(_ roots: [String]) {
        self.roots = roots.map { Self.canonical($0) ?? Paths.folded($0) }
    }

    /// Resolves a `file://` URI (`file:///abs` or `file://./rel` against `base`) to a readable path inside a root.
    /// - Throws: `SourceNotAllowed` outside the roots, `SourceNotFound` when nothing is there.
    public func resolve(fileURI uri: String, base: String?, what: String = "source") throws(TaskFailure) -> String {
        let path = try lexicalPath(fileURI: uri, base: base)
        guard contains(path) else {
            throw .permanent(
                "SourceNotAllowed",
                "\(path) is outside the allowed roots (\(roots.joined(separator: ", "))); add one with --allow-root")
        }
        guard let real = Self.canonical(path) else {
            throw .permanent("SourceNotFound", "\(what) \(path) does not exist")
        }
        guard contains(real) else {
            throw .permanent("SourceNotAllowed", "\(path) resolves to \(real), outside the allowed roots")
        }
        return real
    }

    /// The absolute, `..`-folded path a `file://` URI names (no file system access).
    public func lexicalPath(fileURI uri: String, base: String?) throws(TaskFailure) -> String {
        guard uri.hasPrefix("file://") else { throw .permanent("InvalidSource", "\(uri) is not a file:// URI") }
        var rest = String(uri.dropFirst("file://".count))
        rest = PercentEncoding.decode(rest) ?? rest
        if rest.hasPrefix("/") { return Paths.folded(rest) }
        guard let base else { throw .permanent("InvalidSource", "\(uri) is relative but no base directory is known") }
        return Paths.folded(base + "/" + rest)
    }

    /// Whether `path` is a root or lies under one.
    public func contains(_ path: String) -> Bool {
        roots.contains { root in root == "/" || path == root || path.hasPrefix(root + "/") }
    }

    /// The real path (symlinks resolved), or `nil` when it does not exist.
    static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
