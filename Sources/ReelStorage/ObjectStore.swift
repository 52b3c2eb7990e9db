import FoundationEssentials

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
        case notFound, invalidKey, ioError, unsupported, tooLarge, checksumMismatch, unauthorized
    }

    public var code: Code
    public var message: String
    public var key: String
    /// S3's error code (`NoSuchKey`, `SignatureDoesNotMatch`, `SlowDown`, …) when S3 answered.
    public var s3Code: String?

    public init(_ code: Code, _ message: String, key: String, s3Code: String? = nil) {
        self.code = code
        self.message = message
        self.key = key
        self.s3Code = s3Code
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
    /// Runs `body` with a local file holding the object's bytes, for readers that need a path (FFmpeg): the
    /// object's own file in a file-system store, a download in scratch space (removed afterwards) in S3.
    func withLocalFile<T: Sendable>(_ key: String, _ body: (String) async throws -> T) async throws -> T
    /// The object's size, or `nil` when it does not exist.
    func head(_ key: String) async throws -> StoredObject?
    /// Deletes every object under `prefix`; returns how many there were.
    @discardableResult func delete(prefix: String) async throws -> Int
    /// Keys under `prefix`, sorted.
    func list(prefix: String) async throws -> [String]
}

extension ObjectStore {
    /// Deletes the object at `key` when it is there; returns whether it was. (Deleting is by prefix, so a key that
    /// is absent must not be handed to `delete(prefix:)`, where it would name whatever starts with it.)
    @discardableResult
    public func deleteObject(_ key: String) async throws -> Bool {
        guard try await list(prefix: key).contains(key) else { return false }
        return try await delete(prefix: key) > 0
    }
}

/// Opens stores from their URLs.
public enum ObjectStores {
    /// `file:///dir` or a plain directory path: a `FileSystemStore`; `s3://bucket/prefix?…`: an `S3Store` with the
    /// environment's credentials (its bucket is checked by `connect`). `scratch` is where S3 downloads go.
    public static func open(
        _ url: String, scratch: String = FileManager.default.temporaryDirectory.path,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any ObjectStore {
        if url.hasPrefix("s3://") {
            let client = S3Client(
                location: try S3Location.parse(url, environment: environment),
                credentials: try AWSCredentialProvider.fromEnvironment(environment))
            return S3Store(client: client, scratchDirectory: scratch)
        }
        if url.hasPrefix("file://") {
            let path = String(url.dropFirst("file://".count))
            guard path.hasPrefix("/") else {
                throw StorageError(.unsupported, "storage URL must be file:///absolute/path", key: url)
            }
            return try FileSystemStore(root: path)
        }
        if url.hasPrefix("/") { return try FileSystemStore(root: url) }
        if let scheme = url.split(separator: ":").first, url.contains("://") {
            throw StorageError(
                .unsupported, "\(scheme):// storage is not supported (file:///dir or s3://bucket/prefix)", key: url)
        }
        throw StorageError(.unsupported, "storage must be an absolute directory or file:///dir", key: url)
    }

    /// `open`, then for S3 a check that the bucket exists and the credentials reach it: a clear startup error
    /// instead of a failure deep in a job.
    public static func connect(_ url: String, scratch: String = FileManager.default.temporaryDirectory.path)
        async throws -> any ObjectStore
    {
        let store = try open(url, scratch: scratch)
        if let s3 = store as? S3Store { try await s3.checkBucket() }
        return store
    }

    /// Another S3 location (a source or an output in another bucket) reached the way `store` reaches its own: the
    /// same endpoint, region and credentials when `store` is in S3 and `url` names no endpoint of its own; the
    /// environment's otherwise (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for a non-AWS endpoint). `credentials`
    /// replaces both (a job's own Secret).
    /// `credentials` replaces both (a job's own Secret).
    public static func s3(
        _ url: String, like store: any ObjectStore, scratch: String, credentials: AWSCredentialProvider? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> S3Store {
        var location = try S3Location.parse(url, environment: environment)
        let named = URLComponents(string: url)?.queryItems?.contains { $0.name == "endpoint" } ?? false
        if let s3 = store as? S3Store {
            if !named {
                location = S3Location(
                    bucket: location.bucket, prefix: location.prefix, region: s3.location.region,
                    endpoint: s3.location.endpoint, pathStyle: s3.location.pathStyle)
            }
            return S3Store(
                client: S3Client(location: location, credentials: credentials ?? s3.client.credentials),
                scratchDirectory: scratch)
        }
        if !named, let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"] {
            location = S3Location(
                bucket: location.bucket, prefix: location.prefix, region: location.region, endpoint: endpoint)
        }
        return S3Store(
            client: S3Client(
                location: location, credentials: try credentials ?? AWSCredentialProvider.fromEnvironment(environment)),
            scratchDirectory: scratch)
    }

    /// Checks a key: relative, no empty, `.` or `..` segments.
    static func validate(_ key: String) throws {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.hasPrefix("/"),
            segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw StorageError(.invalidKey, "invalid object key", key: key) }
    }
}
