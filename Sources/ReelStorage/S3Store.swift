import Crypto
import FoundationEssentials
import ReelHTTP
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Objects in an S3 bucket under a prefix (`s3://bucket/prefix/`), on any S3-compatible endpoint. Uploads stream
/// from files; objects over `multipartThreshold` go up in parts, `partConcurrency` at a time, each retried on its
/// own, and the upload is aborted if it cannot complete. Downloads stream to files. Nothing holds a whole object
/// in memory except `put(_:data:)`.
public struct S3Store: ObjectStore {
    public let client: S3Client
    /// Objects at least this big are uploaded in parts (S3's single PUT stops at 5 GiB).
    public var multipartThreshold = 64 << 20
    /// Part size (S3: at least 5 MiB except the last; at most 10,000 parts).
    public var partSize = 8 << 20
    public var partConcurrency = 8
    /// Fault injection for tests: the process stops itself (`SIGSTOP`) once a multipart upload has sent every part
    /// and before it completes, so a test can kill it exactly there (`REEL_FAULT_STOP=multipart-complete`).
    public var stopBeforeComplete = false
    /// Where `withLocalFile` puts the objects it downloads (removed after use).
    public var scratchDirectory: String

    public init(client: S3Client, scratchDirectory: String = FileManager.default.temporaryDirectory.path) {
        self.client = client
        self.scratchDirectory = scratchDirectory
    }

    var location: S3Location { client.location }

    public var baseURI: String { "s3://\(location.bucket)/\(location.prefix)" }

    public func uri(for key: String) -> String { location.uri(objectKey: objectKey(key)) }

    func objectKey(_ key: String) -> String { location.prefix + key }

    /// Fails clearly when the bucket is missing or the credentials cannot reach it (at startup, not deep in a
    /// job).
    public func checkBucket() async throws {
        do {
            _ = try await client.send(.init(method: "HEAD", objectKey: nil))
        } catch let error as StorageError {
            let reason =
                switch error.code {
                case .notFound: "the bucket does not exist"
                case .unauthorized: "these credentials may not use the bucket"
                default: "the bucket cannot be reached"
                }
            throw StorageError(
                error.code, "s3://\(location.bucket) at \(location.endpoint): \(reason) (\(error.message))",
                key: location.bucket, s3Code: error.s3Code)
        }
    }

    public func put(_ key: String, fromFile path: String) async throws -> StoredObject {
        try ObjectStores.validate(key)
        let size = try Self.fileSize(path, key: key)
        async let digest = BlockingExecutor.files.run { () throws -> (Int, String) in
            try FileHashing.hash(path, key: key)
        }
        if size >= multipartThreshold {
            try await uploadMultipart(objectKey(key), path: path, size: size)
        } else {
            _ = try await client.send(
                .init(
                    method: "PUT", objectKey: objectKey(key), bodyFile: FileSlice(path: path, length: size)))
        }
        let (bytes, sha256) = try await digest
        guard bytes == size else {
            throw StorageError(.ioError, "\(path) changed while it was uploaded", key: key)
        }
        return StoredObject(key: key, bytes: size, sha256: sha256, uri: uri(for: key))
    }

    public func put(_ key: String, movingFile path: String) async throws -> StoredObject {
        let stored = try await put(key, fromFile: path)
        unlink(path)
        return stored
    }

    public func put(_ key: String, data: Data) async throws -> StoredObject {
        try ObjectStores.validate(key)
        _ = try await client.send(.init(method: "PUT", objectKey: objectKey(key), body: data))
        return StoredObject(key: key, bytes: data.count, sha256: sha256Hex(data), uri: uri(for: key))
    }

    /// Streams the object (or `range` of it, inclusive byte offsets) into the file at `path` (replaced).
    public func get(_ key: String, toFile path: String, range: ClosedRange<Int>? = nil) async throws {
        try ObjectStores.validate(key)
        let headers: [(name: String, value: String)] =
            range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
        let partial = "\(path).partial-\(UInt32.random(in: 0...UInt32.max))"
        do {
            _ = try await client.send(
                .init(method: "GET", objectKey: objectKey(key), headers: headers, toFile: partial))
            guard rename(partial, path) == 0 else {
                throw StorageError(.ioError, "cannot move the download into \(path)", key: key)
            }
        } catch {
            unlink(partial)
            throw error
        }
    }

    public func withLocalFile<T: Sendable>(_ key: String, _ body: (String) async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        let name = key.split(separator: "/").last.map(String.init) ?? "object"
        let path = "\(scratchDirectory)/\(UUID().uuidString.lowercased())-\(name)"
        defer { unlink(path) }
        try await get(key, toFile: path)
        return try await body(path)
    }

    public func head(_ key: String) async throws -> StoredObject? {
        try ObjectStores.validate(key)
        let response = try await client.send(.init(method: "HEAD", objectKey: objectKey(key), accept: [404]))
        guard response.status != 404 else { return nil }
        let bytes = Int(response.header("Content-Length") ?? "") ?? 0
        return StoredObject(key: key, bytes: bytes, sha256: nil, uri: uri(for: key))
    }

    /// Deletes one object (S3 answers alike whether or not it existed).
    public func delete(_ key: String) async throws {
        try ObjectStores.validate(key)
        _ = try await client.send(.init(method: "DELETE", objectKey: objectKey(key)))
    }

    /// Server-side copy (objects up to 5 GiB).
    public func copy(_ source: String, to destination: String) async throws {
        try ObjectStores.validate(source)
        try ObjectStores.validate(destination)
        let from = "/\(location.bucket)/" + S3Location.encodePath(objectKey(source))
        _ = try await client.send(
            .init(method: "PUT", objectKey: objectKey(destination), headers: [("x-amz-copy-source", from)]))
    }

    @discardableResult public func delete(prefix: String) async throws -> Int {
        let keys = try await listObjectKeys(prefix: objectKey(prefix))
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            let body = Data(
                ("<Delete><Quiet>true</Quiet>"
                    + batch.map { "<Object><Key>\(S3XML.escape($0))</Key></Object>" }.joined() + "</Delete>").utf8)
            let response = try await client.send(
                .init(
                    method: "POST", objectKey: nil, query: [("delete", "")],
                    headers: [
                        ("Content-MD5", Data(Insecure.MD5.hash(data: body)).base64EncodedString()),
                        ("Content-Type", "application/xml"),
                    ], body: body))
            if let failed = S3XML.parse(response.body)?.all("Error").first {
                throw StorageError(
                    .ioError,
                    "DeleteObjects: \(failed.text("Key") ?? "?"): \(failed.text("Code") ?? "") "
                        + "\(failed.text("Message") ?? "")", key: prefix, s3Code: failed.text("Code"))
            }
        }
        return keys.count
    }

    public func list(prefix: String) async throws -> [String] {
        let strip = location.prefix.count
        return try await listObjectKeys(prefix: objectKey(prefix)).map { String($0.dropFirst(strip)) }.sorted()
    }

    /// Every full key under `prefix` (ListObjectsV2, 1,000 a page).
    func listObjectKeys(prefix: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await client.send(.init(method: "GET", objectKey: nil, query: query))
            guard let root = S3XML.parse(response.body) else {
                throw StorageError(.ioError, "ListObjectsV2 answered something that is not XML", key: prefix)
            }
            keys += root.all("Contents").compactMap { $0.text("Key") }
            token = root.text("IsTruncated") == "true" ? root.text("NextContinuationToken") : nil
        } while token != nil
        return keys
    }

    static func fileSize(_ path: String, key: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StorageError(.notFound, "cannot read \(path): \(String(cString: strerror(errno)))", key: key)
        }
        return Int(info.st_size)
    }
}
