import Crypto
import Dispatch
import FoundationEssentials
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Objects as files under a root directory. A write goes to `<key>.partial-<random>` and is renamed into place,
/// so a crash never leaves a half object under a final name. File I/O runs on threads of its own (Swift's tasks
/// share libdispatch's few threads on Linux).
public struct FileSystemStore: ObjectStore {
    public let root: String

    /// A store under `root` (created if missing).
    public init(root: String) throws {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.ioError, "cannot create the store directory: \(describe(error))", key: root)
        }
    }

    public var baseURI: String { "file://\(root)/" }

    public func uri(for key: String) -> String { "file://\(path(key))" }

    /// The file that holds `key`.
    public func path(_ key: String) -> String { "\(root)/\(key)" }

    public func put(_ key: String, fromFile source: String) async throws -> StoredObject {
        try ObjectStores.validate(key)
        let destination = path(key)
        return try await offload {
            let temporary = try Self.temporary(for: destination, key: key)
            do {
                let (bytes, digest) = try FileHashing.copy(from: source, to: temporary, key: key)
                try Self.rename(temporary, destination, key: key)
                return StoredObject(key: key, bytes: bytes, sha256: digest, uri: "file://\(destination)")
            } catch {
                unlink(temporary)
                throw error
            }
        }
    }

    public func put(_ key: String, movingFile source: String) async throws -> StoredObject {
        try ObjectStores.validate(key)
        let destination = path(key)
        return try await offload {
            let (bytes, digest) = try FileHashing.hash(source, key: key)
            _ = try Self.temporary(for: destination, key: key)
            if Glibc.rename(source, destination) != 0 {
                guard errno == EXDEV else {
                    throw StorageError(.ioError, "cannot move \(source): \(String(cString: strerror(errno)))", key: key)
                }
                let temporary = try Self.temporary(for: destination, key: key)
                _ = try FileHashing.copy(from: source, to: temporary, key: key)
                try Self.rename(temporary, destination, key: key)
                unlink(source)
            }
            return StoredObject(key: key, bytes: bytes, sha256: digest, uri: "file://\(destination)")
        }
    }

    public func put(_ key: String, data: Data) async throws -> StoredObject {
        try ObjectStores.validate(key)
        let destination = path(key)
        return try await offload {
            let temporary = try Self.temporary(for: destination, key: key)
            do {
                try data.write(to: URL(fileURLWithPath: temporary))
                try Self.rename(temporary, destination, key: key)
            } catch let error as StorageError {
                unlink(temporary)
                throw error
            } catch {
                unlink(temporary)
                throw StorageError(.ioError, "cannot write: \(describe(error))", key: key)
            }
            let digest = sha256Hex(data)
            return StoredObject(key: key, bytes: data.count, sha256: digest, uri: "file://\(destination)")
        }
    }

    public func withLocalFile<T: Sendable>(_ key: String, _ body: (String) async throws -> T) async throws -> T {
        try ObjectStores.validate(key)
        let file = path(key)
        guard FileManager.default.fileExists(atPath: file) else {
            throw StorageError(.notFound, "no such object", key: key)
        }
        return try await body(file)
    }

    public func head(_ key: String) async throws -> StoredObject? {
        try ObjectStores.validate(key)
        var info = stat()
        guard stat(path(key), &info) == 0 else { return nil }
        return StoredObject(key: key, bytes: Int(info.st_size), sha256: nil, uri: uri(for: key))
    }

    public func delete(prefix: String) async throws -> Int {
        let prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        try ObjectStores.validate(prefix)
        let keys = try await list(prefix: prefix)
        let target = path(prefix)
        try await offload {
            guard FileManager.default.fileExists(atPath: target) else { return }
            do { try FileManager.default.removeItem(atPath: target) } catch {
                throw StorageError(.ioError, "cannot delete: \(describe(error))", key: prefix)
            }
        }
        return keys.count
    }

    public func list(prefix: String) async throws -> [String] {
        let base = path(prefix)
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory) else { return [] }
        guard isDirectory else { return [prefix] }
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        let entries = (try? FileManager.default.subpathsOfDirectory(atPath: base)) ?? []
        return entries.filter { entry in
            var directory = false
            FileManager.default.fileExists(atPath: "\(base)/\(entry)", isDirectory: &directory)
            return !directory && !entry.contains(".partial-")
        }.map { "\(trimmed)/\($0)" }.sorted()
    }

    private func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingExecutor.files.run(work)
    }

    /// Creates the destination's directory and names a temporary file beside it.
    private static func temporary(for destination: String, key: String) throws -> String {
        let directory = Paths.deletingLastComponent(destination)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.ioError, "cannot create \(directory): \(describe(error))", key: key)
        }
        return "\(destination).partial-\(UUID().uuidString.prefix(8))"
    }

    private static func rename(_ from: String, _ to: String, key: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw StorageError(.ioError, "cannot commit: \(String(cString: strerror(errno)))", key: key)
        }
    }
}

/// Streaming SHA-256 over files, 1 MiB at a time.
public enum FileHashing {
    static let blockSize = 1 << 20

    /// Size and SHA-256 of the file at `path`.
    public static func hash(_ path: String, key: String = "") throws -> (bytes: Int, sha256: String) {
        try stream(path, key: key) { _ in }
    }

    /// Copies `source` to `destination` (created), returning size and SHA-256.
    static func copy(from source: String, to destination: String, key: String) throws -> (bytes: Int, sha256: String) {
        guard let output = fopen(destination, "wb") else {
            throw StorageError(.ioError, "cannot create \(destination): \(String(cString: strerror(errno)))", key: key)
        }
        defer { fclose(output) }
        let result = try stream(source, key: key) { block in
            let written = block.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, output) }
            guard written == block.count else {
                throw StorageError(.ioError, "write failed: \(String(cString: strerror(errno)))", key: key)
            }
        }
        guard fflush(output) == 0, fsync(fileno(output)) == 0 else {
            throw StorageError(.ioError, "flush failed: \(String(cString: strerror(errno)))", key: key)
        }
        return result
    }

    private static func stream(_ path: String, key: String, _ body: (ArraySlice<UInt8>) throws -> Void) throws
        -> (bytes: Int, sha256: String)
    {
        guard let input = fopen(path, "rb") else {
            let code: StorageError.Code = errno == ENOENT ? .notFound : .ioError
            throw StorageError(code, "cannot open \(path): \(String(cString: strerror(errno)))", key: key)
        }
        defer { fclose(input) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: blockSize)
        var total = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, blockSize, input) }
            if count > 0 {
                let block = buffer[0..<count]
                hasher.update(data: block)
                try body(block)
                total += count
            }
            if count < blockSize {
                if ferror(input) != 0 { throw StorageError(.ioError, "read failed on \(path)", key: key) }
                break
            }
        }
        return (total, hexString(hasher.finalize()))
    }
}
