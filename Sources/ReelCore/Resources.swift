import FoundationEssentials
import ReelAPI
import ReelSupport

/// Identifies a resource: kind, namespace, name.
public struct ResourceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: String
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(kind) \(namespace)/\(name)" }

    public static func < (a: ResourceKey, b: ResourceKey) -> Bool {
        (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name)
    }
}

/// One row of `resources`: a resource with the bookkeeping a Kubernetes API server would keep.
public struct StoredResource: Sendable {
    public var uid: String
    public var key: ResourceKey
    public var generation: Int64
    public var resourceVersion: Int64
    public var labels: [String: String]
    public var annotations: [String: String]
    public var spec: JSONDocument
    public var status: JSONDocument?
    public var finalizers: [String]
    public var deletionTimestamp: Date?
    public var creationTimestamp: Date
    /// The file that declares it.
    public var sourceFile: String?

    public init(
        uid: String, key: ResourceKey, generation: Int64, resourceVersion: Int64, labels: [String: String] = [:],
        annotations: [String: String] = [:], spec: JSONDocument, status: JSONDocument? = nil,
        finalizers: [String] = [], deletionTimestamp: Date? = nil, creationTimestamp: Date,
        sourceFile: String? = nil
    ) {
        self.uid = uid
        self.key = key
        self.generation = generation
        self.resourceVersion = resourceVersion
        self.labels = labels
        self.annotations = annotations
        self.spec = spec
        self.status = status
        self.finalizers = finalizers
        self.deletionTimestamp = deletionTimestamp
        self.creationTimestamp = creationTimestamp
        self.sourceFile = sourceFile
    }

    /// The directory of the declaring file, against which relative `file://./x` URIs resolve.
    public var sourceBase: String? { sourceFile.map(Paths.deletingLastComponent) }

    /// The spec a job is processed with: the stored spec with its relative `file://` URIs (`source.uri`,
    /// `output.uri`) made absolute against `sourceBase`, so that workers need to know nothing of where the resource
    /// was declared. Without a base (resources from the API server) the spec is unchanged, and a relative URI
    /// fails at ingest as it always has.
    public func processingSpec() throws -> JSONDocument {
        guard let base = sourceBase, case .object(var fields) = try spec.decode(JSONValue.self) else { return spec }
        let encodedBase = PercentEncoding.encode(base, allowing: PercentEncoding.pathAllowed)
        var changed = false
        for section in ["source", "output"] {
            guard case .object(var object)? = fields[section], case .string(let uri)? = object["uri"],
                uri.hasPrefix("file://"), !uri.hasPrefix("file:///")
            else { continue }
            object["uri"] = .string("file://\(encodedBase)/\(uri.dropFirst("file://".count))")
            fields[section] = .object(object)
            changed = true
        }
        return changed ? try JSONDocument(encoding: JSONValue.object(fields)) : spec
    }

    /// The metadata as a resource carries it.
    public var metadata: ObjectMeta {
        var meta = ObjectMeta(name: key.name, namespace: key.namespace)
        meta.uid = uid
        meta.generation = Int(generation)
        meta.resourceVersion = String(resourceVersion)
        meta.labels = labels.isEmpty ? nil : labels
        meta.annotations = annotations.isEmpty ? nil : annotations
        meta.finalizers = finalizers.isEmpty ? nil : finalizers
        meta.creationTimestamp = Timestamp(creationTimestamp)
        meta.deletionTimestamp = deletionTimestamp.map(Timestamp.init)
        return meta
    }

    /// The full VideoJob (metadata, spec, status).
    public func videoJob() throws -> VideoJob {
        VideoJob(
            metadata: metadata, spec: try spec.decode(VideoJobSpec.self),
            status: try status?.decode(VideoJobStatus.self))
    }

    /// The full WorkerPool.
    public func workerPool() throws -> WorkerPool {
        WorkerPool(
            metadata: metadata, spec: try spec.decode(WorkerPoolSpec.self),
            status: try status?.decode(WorkerPoolStatus.self))
    }
}

/// A manifest file that does not parse or validate.
public struct ManifestProblem: Codable, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var column: Int
    public var field: String
    public var message: String

    public init(file: String, line: Int, column: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(file):\(line):\(column): \(field.isEmpty ? "" : "\(field): ")\(message)"
    }
}
