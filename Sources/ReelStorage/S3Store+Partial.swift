import FoundationEssentials
import ReelHTTP
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Resumable uploads in S3: one multipart upload per partial object. Bytes that do not yet fill a part wait in a
/// tail file in scratch space; each commit stores the whole parts (≥ 5 MiB, as S3 requires of every part but the
/// last) and records them. A tail lost with its scratch space costs only those bytes: `partialBytes` says how
/// many survive, and a resuming client sends the rest again.
extension S3Store: PartialObjectStore {
    /// Keys of resumable uploads start with this (the abandoned-upload pass leaves them alone).
    public static let resumablePrefix = "uploads/"

    func tailPath(_ state: PartialState) -> String {
        let name = sha256Hex(Data((state.multipartID ?? "").utf8)).prefix(32)
        return "\(scratchDirectory)/reel-upload-\(name).tail"
    }

    public func beginPartial(_ key: String, expectedBytes: Int?) async throws -> PartialState {
        try ObjectStores.validate(key)
        let id = try await initiateUpload(objectKey(key))
        let state = PartialState(multipartID: id, partSize: max(partSize, ((expectedBytes ?? 0) + 9_999) / 10_000))
        let (tail, scratch) = (tailPath(state), scratchDirectory)
        try await BlockingExecutor.files.run { () throws -> Void in
            try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            _ = try AppendFile(path: tail, size: 0, key: key)
        }
        return state
    }

    public func partialBytes(_ key: String, state: PartialState, recorded: Int) async throws -> Int {
        state.partBytes + min(max(0, recorded - state.partBytes), AppendFile.size(of: tailPath(state)))
    }

    public func openPartial(_ key: String, state: PartialState, at offset: Int) async throws -> any PartialWriter {
        guard offset >= state.partBytes else {
            throw StorageError(.ioError, "offset \(offset) is inside the stored parts", key: key)
        }
        let tail = tailPath(state)
        let file = try await BlockingExecutor.files.run { () throws -> AppendFile in
            try AppendFile(path: tail, size: offset - state.partBytes, key: key)
        }
        return S3PartialWriter(store: self, key: key, state: state, tail: file)
    }

    public func completePartial(_ key: String, state: PartialState) async throws -> StoredObject {
        guard let id = state.multipartID else { throw StorageError(.ioError, "no multipart upload", key: key) }
        var parts = state.parts
        let tail = tailPath(state)
        let remaining = AppendFile.size(of: tail)
        if remaining > 0 || parts.isEmpty {
            let etag = try await uploadPart(
                objectKey(key), uploadID: id, number: parts.count + 1,
                slice: FileSlice(path: tail, offset: 0, length: remaining))
            parts.append(.init(number: parts.count + 1, etag: etag, bytes: remaining))
        }
        try await completeUpload(objectKey(key), uploadID: id, parts: parts.map { ($0.number, $0.etag) })
        unlink(tail)
        return StoredObject(key: key, bytes: parts.reduce(0) { $0 + $1.bytes }, sha256: nil, uri: uri(for: key))
    }

    public func abortPartial(_ key: String, state: PartialState) async throws {
        if let id = state.multipartID { try await abortUpload(objectKey(key), uploadID: id) }
        unlink(tailPath(state))
        try await delete(key)
    }

    public func readableLocation(_ key: String) async throws -> String {
        try await presignedGET(key, expires: .seconds(3600))
    }
}

/// Appends to the tail file; a commit uploads every whole part in it and keeps the rest.
final class S3PartialWriter: PartialWriter, @unchecked Sendable {
    let store: S3Store
    let key: String
    var state: PartialState
    let tail: AppendFile

    init(store: S3Store, key: String, state: PartialState, tail: AppendFile) {
        self.store = store
        self.key = key
        self.state = state
        self.tail = tail
    }

    var offset: Int { state.partBytes + tail.size }

    func append(_ bytes: [UInt8]) async throws {
        try await BlockingExecutor.files.run { [tail, key] () throws -> Void in try tail.write(bytes, key: key) }
    }

    func commit() async throws -> PartialState {
        guard let id = state.multipartID else { throw StorageError(.ioError, "no multipart upload", key: key) }
        let size = state.partSize
        var start = 0
        while tail.size - start >= size {
            let number = state.parts.count + 1
            let etag = try await store.uploadPart(
                store.objectKey(key), uploadID: id, number: number,
                slice: FileSlice(path: tail.path, offset: start, length: size))
            state.parts.append(.init(number: number, etag: etag, bytes: size))
            start += size
        }
        try await BlockingExecutor.files.run { [tail, key, start] () throws -> Void in
            if start > 0 { try tail.dropPrefix(start, key: key) }
            try tail.sync(key: key)
        }
        return state
    }

    func rollback() async throws {
        try await BlockingExecutor.files.run { [tail, key] () throws -> Void in try tail.rollback(key: key) }
    }

    func close() async {}
}

extension AppendFile {
    /// Moves the bytes after the first `count` to the start of the file.
    func dropPrefix(_ count: Int, key: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var from = count
        var to = 0
        while from < size {
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(from)) }
            guard read > 0 else { throw StorageError(.ioError, "cannot read the tail", key: key) }
            let written = buffer.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, read, off_t(to)) }
            guard written == read else { throw StorageError(.ioError, "cannot rewrite the tail", key: key) }
            from += read
            to += read
        }
        try truncate(to: size - count, key: key)
        try sync(key: key)
    }
}
