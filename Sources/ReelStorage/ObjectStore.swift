import Foundation

/// What a store knows about one object.
public struct StoredObject: Sendable, Equatable {
    public var key: String
    public var bytes: Int
    /// Lower-case hex SHA-256 of the bytes (computed while writing; `nil` from `head`).
    public var sha256: String?
    /// Where the object can be fetched from (`file:///…`, `s3://…`).
    public var uri: String

    public init(key: String, bytes: Int, sha256: String?, uri: String) {
        self.key = key
        self.bytes = bytes
        self.sha256 = sha256
        self.uri = uri
    }
}

/// A failure of object storage, with the key it is about.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound, invalidKey, ioError, unsupported, tooLarge, checksumMismatch
    }

    public var code: Code
    public var message: String
    public var key: String

    public init(_ code: Code, _ message: String, key: String) {
        self.code = code
        self.message = message
        self.key = key
    }

    public var description: String { "\(key): \(message)" }
}

/// Bytes by key (`jobs/<uid>/chunks/0.mp4`). Writes are atomic: an object appears under its key complete or not
/// at all. Keys are relative, `/`-separated, without `.` or `..` segments.
public protocol ObjectStore: Sendable {
    /// The store's location, e.g. `file:///var/lib/reel/store`.
    var baseURI: String { get }
    /// The URI of `key` in this store.
    func uri(for key: String) -> String
    /// Copies the file at `path` to `key`, hashing as it goes.
    func put(_ key: String, fromFile path: String) async throws -> StoredObject
    /// Moves the file at `path` to `key` (a copy when it is on another file system).
    func put(_ key: String, movingFile path: String) async throws -> StoredObject
    /// Writes `data` to `key`.
    func put(_ key: String, data: Data) async throws -> StoredObject
    /// A local file holding the object's bytes, for readers that need a path (FFmpeg).
    func localFile(_ key: String) async throws -> String
    /// The object's size, or `nil` when it does not exist.
    func head(_ key: String) async throws -> StoredObject?
    /// Deletes every object under `prefix`; returns how many there were.
    @discardableResult func delete(prefix: String) async throws -> Int
    /// Keys under `prefix`, sorted.
    func list(prefix: String) async throws -> [String]
}

/// Opens stores from their URLs.
public enum ObjectStores {
    /// `file:///dir` or a plain directory path: a `FileSystemStore`. Other schemes are not available yet.
    public static func open(_ url: String) throws -> any ObjectStore {
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else {
                throw StorageError(.unsupported, "storage URL must be file:///absolute/path", key: url)
            }
            return try FileSystemStore(root: path)
        }
        if url.hasPrefix("/") { return try FileSystemStore(root: url) }
        if let scheme = url.split(separator: ":").first, url.contains("://") {
            throw StorageError(.unsupported, "\(scheme):// storage is not supported yet (use file:///dir)", key: url)
        }
        throw StorageError(.unsupported, "storage must be an absolute directory or file:///dir", key: url)
    }

    /// Checks a key: relative, no empty, `.` or `..` segments.
    static func validate(_ key: String) throws {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.hasPrefix("/"),
            segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw StorageError(.invalidKey, "invalid object key", key: key) }
    }
}
