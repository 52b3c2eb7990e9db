import FoundationEssentials
import Logging
import ReelAPI
import ReelKube
import ReelCore
import ServiceLifecycle
import Synchronization
import ReelSupport

extension KubeResource {
    /// `videojobs.reel.dev/v1alpha1`.
    public static let videoJobs = KubeResource(
        group: API.group, version: API.versionName, plural: VideoJob.names.plural)
    /// `workerpools.reel.dev/v1alpha1`.
    public static let workerPools = KubeResource(
        group: API.group, version: API.versionName, plural: WorkerPool.names.plural)
}

/// Desired state from a Kubernetes API server: an informer (list + watch, resumed, relisted on `410 Gone`) for
/// VideoJobs and one for WorkerPools, in one namespace or all. Reads come from the caches; status goes through
/// `/status` (re-read and retried on `409 Conflict`), finalizers through a merge patch conditional on the
/// resourceVersion read. Every object runs through `ResourceDecoder` — the same validation and defaults as a
/// file — and one that fails the rules the CRD schema cannot say is marked `Failed`/`InvalidSpec` with a
/// Warning Event and otherwise left alone.
///
/// Only changes that matter to the reconciler wake it: a new generation (spec), deletion, finalizers, labels
/// or annotations. Status and resourceVersion changes — most of them its own writes — do not, so a status write
/// never causes another reconcile.
///
/// A settled VideoJob that nothing has read for `coldAfter` is kept as its resourceVersion only (`State.cold`),
/// and read from the API server the next time the reconciler asks for it: the cost of 10,000 finished jobs is
/// their keys, versions and triggers, not their parsed objects and statuses. No spec is kept for later either: a
/// job edited into an invalid spec and then deleted is cleaned up with the spec it was last processed with, which
/// Postgres has (`lastSpec`).
public final class KubernetesBackend: ResourceSource, Service {
    public let client: KubeClient
    public let namespace: String?
    let logger: Logger
    let events: KubeEventSink?
    let onChange: @Sendable ([ResourceKey]) async -> Void
    let jobs: Informer
    let pools: Informer
    let state = Mutex(State())
    /// How long a settled VideoJob stays parsed after its last read (`compactSettled`).
    let coldAfter: Duration
    /// The keys the reconciler is about to read, which stay parsed (at start, every job is queued).
    let pending: @Sendable () async -> Set<ResourceKey>
    /// The spec a VideoJob (by uid) was last processed with, if it ever was.
    let lastSpec: @Sendable (String) async throws -> JSONDocument?

    /// What of an object wakes the reconciler when it changes.
    struct Trigger: Equatable {
        var generation: Int64
        var deleting: Bool
        var finalizers: [String]
        var labels: [String: String]
        var annotations: [String: String]
    }

    struct State {
        var parsed: [ResourceKey: Parsed] = [:]
        /// Settled VideoJobs not read for a while, by resourceVersion: not parsed; `get` reads them again.
        var cold: [ResourceKey: String] = [:]
        var triggers: [ResourceKey: Trigger] = [:]
        var synced: Set<String> = []
        /// The uid and generation last reported invalid (reported once per generation).
        var reportedInvalid: [ResourceKey: (uid: String, generation: Int64)] = [:]
        var wakeups = 0
    }

    public init(
        client: KubeClient, namespace: String?, events: KubeEventSink?, logger: Logger,
        coldAfter: Duration = .seconds(10), pending: @escaping @Sendable () async -> Set<ResourceKey> = { [] },
        lastSpec: @escaping @Sendable (String) async throws -> JSONDocument? = { _ in nil },
        onChange: @escaping @Sendable ([ResourceKey]) async -> Void
    ) {
        self.coldAfter = coldAfter
        self.pending = pending
        self.lastSpec = lastSpec
        self.client = client
        self.namespace = namespace
        self.events = events
        self.logger = logger
        self.onChange = onChange
        jobs = Informer(client: client, resource: .videoJobs, namespace: namespace)
        pools = Informer(client: client, resource: .workerPools, namespace: namespace)
    }

    /// Whether both caches have been filled from a list.
    public var synced: Bool { state.withLock { $0.synced.count == 2 } }
    /// How often a change woke the reconciler.
    public var wakeups: Int { state.withLock { $0.wakeups } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for (informer, kind) in [(jobs, VideoJob.names.kind), (pools, WorkerPool.names.kind)] {
                group.addTask { [self] in
                    await informer.run { event in await self.handle(event, kind: kind) }
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: coldAfter)
                    compactSettled(except: await pending())
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    func handle(_ event: InformerEvent, kind: String) async {
        switch event {
        case .synced:
            state.withLock { _ = $0.synced.insert(kind) }
            logger.info("\(kind) cache synced")
        case .delete(let cacheKey):
            let key = Self.resourceKey(kind: kind, cacheKey)
            state.withLock { state in
                state.parsed[key] = nil
                state.cold[key] = nil
                state.triggers[key] = nil
                state.reportedInvalid[key] = nil
            }
            await wake([key])
        case .upsert(let cacheKey, let object):
            let key = Self.resourceKey(kind: kind, cacheKey)
            // A cold object at the version it went cold at (a relist, a late watch event) is left cold.
            if isCold(key, object) { return }
            guard let parsed = parse(object, key: key) else { return }
            let trigger = Self.trigger(object)
            let changed = state.withLock { state -> Bool in
                guard state.triggers[key] != trigger else { return false }
                state.triggers[key] = trigger
                return true
            }
            if !parsed.problems.isEmpty { await reportInvalid(key, object: object, problems: parsed.problems) }
            if changed { await wake([key]) }
        }
    }

    private func wake(_ keys: [ResourceKey]) async {
        state.withLock { $0.wakeups += 1 }
        await onChange(keys)
    }

    static func resourceKey(kind: String, _ cacheKey: String) -> ResourceKey {
        let parts = cacheKey.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        return ResourceKey(kind: kind, namespace: String(parts.first ?? ""), name: String(parts.last ?? ""))
    }

    /// What in an object makes the reconciler look again.
    static func trigger(_ object: Data) -> Trigger {
        // An object that does not decode triggers as an empty one: `parse` reports it.
        let metadata = (try? JSONDecoder().decode(PartialObject.self, from: object))?.metadata
        return Trigger(
            generation: Int64(metadata?.generation ?? 0), deleting: metadata?.deletionTimestamp != nil,
            finalizers: metadata?.finalizers ?? [], labels: metadata?.labels ?? [:],
            annotations: metadata?.annotations ?? [:])
    }

    // MARK: reading

    /// An object as a `StoredResource`, validated and defaulted like a file; `resource` is `nil` when invalid.
    /// The result is what reads return (`State.parsed`; none for an object that does not decode or is not
    /// Reel's): objects are parsed as their watch events come and as this client writes them, and an object at a
    /// resourceVersion already parsed is not decoded again. An object older than the one cached (a read or a
    /// write's answer overtaken by a watch event) leaves the cache as it is, and the cached one is returned.
    @discardableResult
    func parse(_ object: Data, key: ResourceKey) -> Parsed? {
        let parsed = decodeParsed(object, key: key)
        return state.withLock { state in
            if let parsed, let current = state.parsed[key],
                Int64(current.resourceVersion) ?? .min > Int64(parsed.resourceVersion) ?? .max
            {
                return current
            }
            state.parsed[key] = parsed
            state.cold[key] = nil
            return parsed
        }
    }

    func decodeParsed(_ object: Data, key: ResourceKey) -> Parsed? {
        let decoded: KubeObject
        do { decoded = try JSONDecoder().decode(KubeObject.self, from: object) } catch {
            logger.warning("\(key): cannot read the object: \(error)")
            return nil
        }
        let metadata = decoded.metadata
        let resourceVersion = metadata.resourceVersion ?? ""
        if let cached = state.withLock({ $0.parsed[key] }), cached.resourceVersion == resourceVersion,
            !resourceVersion.isEmpty
        {
            return cached
        }
        let (outcome, stored) = Self.stored(decoded, key: key, fallback: nil)
        guard let stored else {
            guard case .invalid(let problems) = outcome else { return nil }
            return Parsed(
                resourceVersion: resourceVersion, problems: problems,
                deleting: metadata.deletionTimestamp != nil ? decoded : nil)
        }
        return Parsed(
            resourceVersion: resourceVersion, resource: stored,
            settled: key.kind == VideoJob.names.kind && Self.isSettled(decoded))
    }

    /// A VideoJob's status says it is settled (`VideoJobPhase.isSettled`) in its current generation, and it is
    /// not being deleted.
    static func isSettled(_ object: KubeObject) -> Bool {
        guard object.metadata.deletionTimestamp == nil, case .object(let status)? = object.status,
            case .string(let phase)? = status["phase"], VideoJobPhase(rawValue: phase)?.isSettled == true,
            case .int(let observed)? = status["observedGeneration"], observed == object.metadata.generation
        else { return false }
        return true
    }

    /// An object as a `StoredResource`, validated and defaulted like a file (`nil` when invalid, unless a
    /// `fallback` spec stands in: the last valid one of an object being deleted).
    static func stored(_ decoded: KubeObject, key: ResourceKey, fallback: JSONDocument?) -> (
        ResourceDecoder.Outcome, StoredResource?
    ) {
        let metadata = decoded.metadata
        // What a user declared: apiVersion, kind, name, namespace, labels, annotations, spec.
        var declaredMeta: [String: JSONValue] = ["name": .string(metadata.name)]
        if let namespace = metadata.namespace { declaredMeta["namespace"] = .string(namespace) }
        if let labels = metadata.labels { declaredMeta["labels"] = .object(labels.mapValues(JSONValue.string)) }
        if let annotations = metadata.annotations {
            declaredMeta["annotations"] = .object(annotations.mapValues(JSONValue.string))
        }
        var declared: [String: JSONValue] = [
            "apiVersion": .string(decoded.apiVersion ?? ""), "kind": .string(decoded.kind ?? ""),
            "metadata": .object(declaredMeta),
        ]
        if let spec = decoded.spec { declared["spec"] = spec }
        let outcome = ResourceDecoder.decode(json: .object(declared))
        let spec: JSONDocument?
        switch outcome {
        case .resource(.videoJob(let job)): spec = try? JSONDocument(encoding: job.spec)
        case .resource(.workerPool(let pool)): spec = try? JSONDocument(encoding: pool.spec)
        case .invalid: spec = fallback
        case .foreign: spec = nil
        }
        guard let spec else { return (outcome, nil) }
        return (
            outcome,
            StoredResource(
                uid: metadata.uid ?? "", key: key, generation: Int64(metadata.generation ?? 1),
                resourceVersion: Int64(metadata.resourceVersion ?? "") ?? 0, labels: metadata.labels ?? [:],
                annotations: metadata.annotations ?? [:], spec: spec,
                status: try? decoded.status.map { try JSONDocument(encoding: $0) },
                finalizers: metadata.finalizers ?? [], deletionTimestamp: metadata.deletionTimestamp?.date,
                creationTimestamp: metadata.creationTimestamp?.date ?? Date(), sourceFile: nil)
        )
    }

    func informer(for kind: String) -> Informer? {
        switch kind {
        case VideoJob.names.kind: jobs
        case WorkerPool.names.kind: pools
        default: nil
        }
    }

    func resource(for kind: String) -> KubeResource? {
        switch kind {
        case VideoJob.names.kind: .videoJobs
        case WorkerPool.names.kind: .workerPools
        default: nil
        }
    }
}

/// A VideoJob or WorkerPool as the API server serves it: typed metadata, spec and status as JSON.
struct KubeObject: Codable, Sendable {
    var apiVersion: String?
    var kind: String?
    var metadata: ObjectMeta
    var spec: JSONValue?
    var status: JSONValue?
}
