import FoundationEssentials
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Where a partial object stands in its store, kept by the caller between requests (Postgres, for uploads): S3's
/// multipart upload id and the parts already stored; nothing for a file-system store, whose partial file is its
/// own record.
public struct PartialState: Codable, Sendable, Equatable {
    public struct Part: Codable, Sendable, Equatable {
        public var number: Int
        public var etag: String
        public var bytes: Int
    }

    public var multipartID: String?
    public var parts: [Part] = []
    /// The size of every part but the last.
    public var partSize = 8 << 20

    public init(multipartID: String? = nil, partSize: Int = 8 << 20) {
        self.multipartID = multipartID
        self.partSize = partSize
    }

    /// Bytes in stored parts.
    public var partBytes: Int { parts.reduce(0) { $0 + $1.bytes } }
}

/// An object written over many requests (a resumable upload): bytes are appended, survive a restart of the
/// writer once `commit` returns, and become an ordinary object under their key at `completePartial`. Until then
/// the object is invisible to `list` and `head`.
public protocol PartialObjectStore: ObjectStore {
    /// Starts a partial object for `key`; `expectedBytes`, when known, sizes S3 parts so that 10,000 suffice.
    func beginPartial(_ key: String, expectedBytes: Int?) async throws -> PartialState
    /// How many of the `recorded` bytes survive (fewer when the scratch space that held an S3 tail was lost).
    func partialBytes(_ key: String, state: PartialState, recorded: Int) async throws -> Int
    /// A writer that appends after the first `offset` bytes (anything stored past them is dropped).
    func openPartial(_ key: String, state: PartialState, at offset: Int) async throws -> any PartialWriter
    /// Turns the partial object into the object `key`.
    func completePartial(_ key: String, state: PartialState) async throws -> StoredObject
    /// Removes the partial object's bytes.
    func abortPartial(_ key: String, state: PartialState) async throws
    /// Something FFmpeg can open for `key` without a copy: the file, or a presigned URL.
    func readableLocation(_ key: String) async throws -> String
}

/// Appends to one partial object; used by one request at a time.
public protocol PartialWriter: AnyObject, Sendable {
    /// Bytes of the object so far, including what is not yet committed.
    var offset: Int { get }
    /// Appends `bytes` (held on disk, never whole in memory).
    func append(_ bytes: [UInt8]) async throws
    /// Makes everything appended durable; returns the state to record with the new offset.
    func commit() async throws -> PartialState
    /// Drops what was appended since the last commit (a chunk whose checksum did not match).
    func rollback() async throws
    /// Releases the file handles.
    func close() async
}

/// A file opened for appending at a position, with `fsync` on commit and truncation on rollback.
final class AppendFile: @unchecked Sendable {
    let path: String
    let descriptor: Int32
    /// Bytes in the file (written so far).
    private(set) var size: Int
    /// The size at the last commit.
    private(set) var committed: Int

    /// Opens (creating) `path` and truncates it to `size` bytes; throws when it holds fewer.
    init(path: String, size: Int, key: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageError(
                .ioError, "cannot open the partial object: \(String(cString: strerror(errno)))", key: key)
        }
        var info = stat()
        fstat(descriptor, &info)
        guard Int(info.st_size) >= size else {
            close(descriptor)
            throw StorageError(.notFound, "the partial object holds \(info.st_size) bytes, not \(size)", key: key)
        }
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            close(descriptor)
            throw StorageError(.ioError, "cannot truncate: \(String(cString: strerror(errno)))", key: key)
        }
        self.size = size
        committed = size
    }

    deinit { close(descriptor) }

    func write(_ bytes: [UInt8], key: String) throws {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(size))
            }
            guard count > 0 else {
                throw StorageError(.ioError, "cannot write: \(String(cString: strerror(errno)))", key: key)
            }
            done += count
            size += count
        }
    }

    func sync(key: String) throws {
        guard fsync(descriptor) == 0 else {
            throw StorageError(.ioError, "cannot sync: \(String(cString: strerror(errno)))", key: key)
        }
        committed = size
    }

    /// Back to the last commit.
    func rollback(key: String) throws { try truncate(to: committed, key: key) }

    /// Keeps the first `bytes` bytes.
    func truncate(to bytes: Int, key: String) throws {
        guard ftruncate(descriptor, off_t(bytes)) == 0 else {
            throw StorageError(.ioError, "cannot truncate: \(String(cString: strerror(errno)))", key: key)
        }
        size = bytes
        committed = min(committed, bytes)
    }

    /// The size of the file at `path` (0 when missing).
    static func size(of path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

extension FileSystemStore: PartialObjectStore {
    /// The partial file beside the object's final place (a `.partial-` name, which `list` never shows).
    func partialPath(_ key: String) -> String { path(key) + ".partial-upload" }

    public func beginPartial(_ key: String, expectedBytes: Int?) async throws -> PartialState {
        try ObjectStores.validate(key)
        let file = partialPath(key)
        try await BlockingExecutor.files.run { () throws -> Void in
            let directory = Paths.deletingLastComponent(file)
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StorageError(.ioError, "cannot create \(directory): \(describe(error))", key: key)
            }
            _ = try AppendFile(path: file, size: 0, key: key)
        }
        return PartialState()
    }

    public func partialBytes(_ key: String, state: PartialState, recorded: Int) async throws -> Int {
        min(recorded, AppendFile.size(of: partialPath(key)))
    }

    public func openPartial(_ key: String, state: PartialState, at offset: Int) async throws -> any PartialWriter {
        try ObjectStores.validate(key)
        let file = partialPath(key)
        let append = try await BlockingExecutor.files.run { () throws -> AppendFile in
            try AppendFile(path: file, size: offset, key: key)
        }
        return FilePartialWriter(file: append, key: key)
    }

    public func completePartial(_ key: String, state: PartialState) async throws -> StoredObject {
        let (file, destination) = (partialPath(key), path(key))
        return try await BlockingExecutor.files.run { () throws -> StoredObject in
            guard Glibc.rename(file, destination) == 0 else {
                throw StorageError(.ioError, "cannot commit: \(String(cString: strerror(errno)))", key: key)
            }
            return StoredObject(
                key: key, bytes: AppendFile.size(of: destination), sha256: nil, uri: "file://\(destination)")
        }
    }

    public func abortPartial(_ key: String, state: PartialState) async throws {
        let (file, destination) = (partialPath(key), path(key))
        try await BlockingExecutor.files.run { () throws -> Void in
            unlink(file)
            unlink(destination)
            // The upload's directory, when it held nothing else.
            rmdir(Paths.deletingLastComponent(destination))
        }
    }

    public func readableLocation(_ key: String) async throws -> String { path(key) }
}

/// Appends straight into the partial file.
final class FilePartialWriter: PartialWriter, @unchecked Sendable {
    let file: AppendFile
    let key: String

    init(file: AppendFile, key: String) {
        self.file = file
        self.key = key
    }

    var offset: Int { file.size }

    func append(_ bytes: [UInt8]) async throws {
        try await BlockingExecutor.files.run { [file, key] () throws -> Void in try file.write(bytes, key: key) }
    }

    func commit() async throws -> PartialState {
        try await BlockingExecutor.files.run { [file, key] () throws -> Void in try file.sync(key: key) }
        return PartialState()
    }

    func rollback() async throws {
        try await BlockingExecutor.files.run { [file, key] () throws -> Void in try file.rollback(key: key) }
    }

    func close() async {}
}
