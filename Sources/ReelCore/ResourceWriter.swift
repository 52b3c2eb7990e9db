import FoundationEssentials
import ReelSupport

/// A resource to create: its key, metadata, and spec (validated and defaulted by `ResourceDecoder` already).
public struct NewResource: Sendable {
    public var key: ResourceKey
    public var labels: [String: String]
    public var annotations: [String: String]
    public var spec: JSONDocument

    public init(key: ResourceKey, labels: [String: String], annotations: [String: String], spec: JSONDocument) {
        self.key = key
        self.labels = labels
        self.annotations = annotations
        self.spec = spec
    }
}

/// Why a write was refused.
public enum ResourceWriteError: Error, Equatable, CustomStringConvertible {
    /// No such resource (in this namespace).
    case notFound(ResourceKey)
    /// The name is taken.
    case alreadyExists(ResourceKey)
    /// The resource changed since the version the caller read (`If-Match`), or it may not be changed this way
    /// (a file declares it).
    case conflict(ResourceKey, String)

    public var description: String {
        switch self {
        case .notFound(let key): "\(key) not found"
        case .alreadyExists(let key): "\(key) already exists"
        case .conflict(_, let message): message
        }
    }
}

/// The other half of `ResourceSource`: how the HTTP API reads and writes the resources of one namespace (a tenant)
/// — the `resources` table locally (origin `api`, under row-level security), the API server in a cluster. The
/// caller validates with `ResourceDecoder` first; a writer only stores.
public protocol ResourceWriter: Sendable {
    /// The resources of `kind` in `namespace`.
    func list(kind: String, namespace: String) async throws -> [StoredResource]
    /// One resource, or `nil` (also when it is in another namespace).
    func get(_ key: ResourceKey) async throws -> StoredResource?
    /// The resource of `kind` with this uid in `namespace`, or `nil`.
    func get(kind: String, namespace: String, uid: String) async throws -> StoredResource?
    /// Creates; throws `alreadyExists` when the name is taken.
    func create(_ resource: NewResource) async throws -> StoredResource
    /// Replaces labels, annotations and spec (a spec change is a new generation); with `expectedVersion`, throws
    /// `conflict` when the stored resourceVersion differs.
    func update(_ resource: NewResource, expectedVersion: Int64?) async throws -> StoredResource
    /// Asks for deletion (finalizers run first); throws `notFound`.
    func delete(_ key: ResourceKey) async throws
}
