import FoundationEssentials
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// Where the reconciler and the autoscaler read desired state and write status: the `resources` table (YAML
/// directory) or a Kubernetes API server. Both keep Kubernetes semantics: uid, generation bumped by spec changes
/// only, a status written apart from the spec, finalizers, and a deletion timestamp while finalizers remain.
public protocol ResourceSource: Sendable {
    /// Every resource of `kind` (every kind when `nil`), by namespace and name.
    func list(kind: String?) async throws -> [StoredResource]
    /// One resource, or `nil`.
    func get(_ key: ResourceKey) async throws -> StoredResource?
    /// The key of every resource of `kind`, without reading their specs or statuses.
    func keys(kind: String) async throws -> [ResourceKey]
    /// The keys of the resources of `kind` that can still change by themselves, which the periodic resync looks
    /// at: every one but a VideoJob settled in its current generation (`VideoJobPhase.isSettled`, not being
    /// deleted). A settled job changes only through an event that queues it anyway: its spec, its deletion, its
    /// tasks (`NOTIFY reel_jobs`), its `ttlSecondsAfterFinished` timer.
    func unsettledKeys(kind: String) async throws -> [ResourceKey]
    /// Writes the status when it differs from the stored one; returns whether it wrote.
    @discardableResult
    func updateStatus(_ resource: StoredResource, status: ResourceStatus) async throws -> Bool
    /// Adds a finalizer (no-op when present or when the resource is being deleted).
    func addFinalizer(_ resource: StoredResource, _ finalizer: String) async throws
    /// Removes a finalizer; a resource being deleted with none left goes away.
    func removeFinalizer(_ resource: StoredResource, _ finalizer: String) async throws
    /// Deletes a resource on Reel's own initiative (`ttlSecondsAfterFinished`); `false` where Reel may not (a
    /// file declares it: the file is the user's).
    func delete(_ resource: StoredResource) async throws -> Bool
}

/// A status to write, typed as the API types it.
public enum ResourceStatus: Sendable, Equatable {
    case videoJob(VideoJobStatus)
    case workerPool(WorkerPoolStatus)

    /// The status as stored and sent: JSON with sorted keys (equal statuses give equal text).
    public func document() throws -> JSONDocument {
        switch self {
        case .videoJob(let status): try JSONDocument(encoding: status)
        case .workerPool(let status): try JSONDocument(encoding: status)
        }
    }
}

/// Where the reconciler reports what it did to a resource, for people: Kubernetes Events, or nowhere.
public protocol ResourceEventSink: Sendable {
    /// `type` is `Normal` or `Warning`; `reason` is CamelCase; `action` says what the controller did.
    func record(_ resource: StoredResource, type: String, reason: String, action: String, note: String) async
}

extension ResourceTable: ResourceSource {
    public func unsettledKeys(kind: String) async throws -> [ResourceKey] {
        try await unsettledKeys(
            kind: kind, settledPhases: kind == VideoJob.names.kind ? VideoJobPhase.settled.map(\.rawValue) : [])
    }

    @discardableResult
    public func updateStatus(_ resource: StoredResource, status: ResourceStatus) async throws -> Bool {
        try await updateStatus(uid: resource.uid, status: try status.document())
    }

    public func addFinalizer(_ resource: StoredResource, _ finalizer: String) async throws {
        try await addFinalizer(uid: resource.uid, finalizer)
    }

    public func removeFinalizer(_ resource: StoredResource, _ finalizer: String) async throws {
        try await removeFinalizer(uid: resource.uid, finalizer)
    }

    /// Never: the resource lives in a file Reel does not write.
    public func delete(_ resource: StoredResource) async throws -> Bool { false }
}
