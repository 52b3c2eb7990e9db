import FoundationEssentials
import ReelAPI
import ReelCore
import ReelKube
import ReelSupport

/// The cluster's `ResourceWriter`: VideoJobs and WorkerPools created, replaced and deleted through the API server
/// in the caller's namespace (the operator sees them through its watch like anything `kubectl` writes). Reads
/// go to the API server too, so a client reads its own writes.
public struct KubernetesWriter: ResourceWriter {
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    static func api(_ kind: String) -> KubeResource {
        kind == WorkerPool.names.kind ? .workerPools : .videoJobs
    }

    static func resource(_ data: Data, kind: String) throws -> StoredResource? {
        let decoded = try JSONDecoder().decode(KubeObject.self, from: data)
        let key = ResourceKey(kind: kind, namespace: decoded.metadata.effectiveNamespace, name: decoded.metadata.name)
        return KubernetesBackend.stored(decoded, key: key, fallback: nil).1
    }

    public func list(kind: String, namespace: String) async throws -> [StoredResource] {
        try await client.listAll(Self.api(kind), namespace: namespace).items.compactMap {
            try Self.resource($0, kind: kind)
        }
    }

    public func get(_ key: ResourceKey) async throws -> StoredResource? {
        do {
            return try Self.resource(
                try await client.get(Self.api(key.kind), namespace: key.namespace, name: key.name), kind: key.kind)
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
    }

    public func get(kind: String, namespace: String, uid: String) async throws -> StoredResource? {
        try await list(kind: kind, namespace: namespace).first { $0.uid == uid }
    }

    struct Object: Encodable {
        var apiVersion = API.version
        var kind: String
        var metadata: ObjectMeta
        var spec: JSONValue
    }

    static func object(_ resource: NewResource, version: Int64?, finalizers: [String] = []) throws -> Data {
        var metadata = ObjectMeta(name: resource.key.name, namespace: resource.key.namespace)
        metadata.finalizers = finalizers.isEmpty ? nil : finalizers
        metadata.labels = resource.labels.isEmpty ? nil : resource.labels
        metadata.annotations = resource.annotations.isEmpty ? nil : resource.annotations
        metadata.resourceVersion = version.map(String.init)
        return try JSONEncoder().encode(
            Object(kind: resource.key.kind, metadata: metadata, spec: try resource.spec.decode(JSONValue.self)))
    }

    public func create(_ resource: NewResource) async throws -> StoredResource {
        let key = resource.key
        do {
            let created = try await client.create(
                Self.api(key.kind), namespace: key.namespace, try Self.object(resource, version: nil))
            guard let stored = try Self.resource(created, kind: key.kind) else {
                throw ResourceWriteError.notFound(key)
            }
            return stored
        } catch let error as KubeError where error.isConflict {
            throw ResourceWriteError.alreadyExists(key)
        }
    }

    public func update(_ resource: NewResource, expectedVersion: Int64?) async throws -> StoredResource {
        let key = resource.key
        guard let current = try await get(key) else { throw ResourceWriteError.notFound(key) }
        // The status subresource ignores status in a PUT of the object: only spec and metadata change (the
        // operator's finalizers are carried over).
        do {
            let replaced = try await client.replace(
                Self.api(key.kind), namespace: key.namespace, name: key.name,
                try Self.object(
                    resource, version: expectedVersion ?? current.resourceVersion, finalizers: current.finalizers))
            guard let stored = try Self.resource(replaced, kind: key.kind) else {
                throw ResourceWriteError.notFound(key)
            }
            return stored
        } catch let error as KubeError where error.isConflict {
            throw ResourceWriteError.conflict(
                key,
                "\(key) has changed since resourceVersion \(expectedVersion ?? current.resourceVersion): "
                    + error.message
            )
        } catch let error as KubeError where error.isNotFound {
            throw ResourceWriteError.notFound(key)
        }
    }

    public func delete(_ key: ResourceKey) async throws {
        do {
            try await client.delete(Self.api(key.kind), namespace: key.namespace, name: key.name)
        } catch let error as KubeError where error.isNotFound {
            throw ResourceWriteError.notFound(key)
        }
    }
}
