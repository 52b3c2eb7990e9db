import FoundationEssentials
import Logging
import ReelAPI
import ReelKube
import ReelCore
import ReelYAML
import ServiceLifecycle
import Synchronization
import ReelSupport

extension KubernetesBackend {
    // MARK: writing

    @discardableResult
    public func updateStatus(_ resource: StoredResource, status: ResourceStatus) async throws -> Bool {
        guard let api = self.resource(for: resource.key.kind) else { return false }
        let wanted = try status.document().decode(JSONValue.self)
        if let current = resource.status,
            (try? JSONDecoder().decode(JSONValue.self, from: Data(current.text.utf8))) == wanted
        {
            return false
        }
        return try await writeStatus(wanted, api: api, key: resource.key)
    }

    /// Writes `status` through `/status` at the version it reads (retried on conflict) unless the server already
    /// has it; puts the result into the cache. Returns whether it wrote.
    func writeStatus(_ status: JSONValue, api: KubeResource, key: ResourceKey) async throws -> Bool {
        var wrote = false
        let updated = try await client.updateStatus(api, namespace: key.namespace, name: key.name) { current in
            guard case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: current) else {
                return current
            }
            if object["status"] == status { return current }  // already so: the PUT changes nothing
            object["status"] = status
            wrote = true
            return try JSONEncoder().encode(JSONValue.object(object))
        }
        remember(updated, key: key)
        return wrote
    }

    public func addFinalizer(_ resource: StoredResource, _ finalizer: String) async throws {
        guard !resource.finalizers.contains(finalizer), resource.deletionTimestamp == nil else { return }
        try await patchFinalizers(resource, resource.finalizers + [finalizer])
    }

    public func removeFinalizer(_ resource: StoredResource, _ finalizer: String) async throws {
        guard resource.finalizers.contains(finalizer) else { return }
        try await patchFinalizers(resource, resource.finalizers.filter { $0 != finalizer })
    }

    /// Deletes the object (its finalizer then runs the cleanup), only if it is still the one decided about.
    public func delete(_ resource: StoredResource) async throws -> Bool {
        guard let api = self.resource(for: resource.key.kind) else { return false }
        do {
            try await client.delete(
                api, namespace: resource.key.namespace, name: resource.key.name,
                preconditions: (uid: resource.uid, resourceVersion: String(resource.resourceVersion)))
            return true
        } catch let error as KubeError where error.isNotFound {
            return false
        }
    }

    /// Puts an object this client just wrote into the cache and parses it now: the periodic resync asks whether
    /// it is settled before its watch event arrives (under load, many seconds later), and a job whose own status
    /// write made it settled must not be looked at again for want of that event. Returns what `parse` returns.
    @discardableResult
    func remember(_ object: Data, key: ResourceKey) -> Parsed? {
        informer(for: key.kind)?.remember(object)
        return parse(object, key: key)
    }

    /// Records the finalizers of an object this client just patched as seen, when nothing else that wakes the
    /// reconciler differs from what was seen: the watch event of its own patch then wakes nobody (the reconciler
    /// reads again after the patch anyway). That event used to queue every new job a second time, a queue's
    /// length after the first, when the job had long settled.
    func rememberFinalizers(_ object: Data, key: ResourceKey) {
        var patched = Self.trigger(object)
        state.withLock { state in
            guard let seen = state.triggers[key] else { return }
            let finalizers = patched.finalizers
            patched.finalizers = seen.finalizers
            if patched == seen { state.triggers[key]?.finalizers = finalizers }
        }
    }

    /// Sets the finalizer list, conditional on the resourceVersion the decision was made at (a `409 Conflict`
    /// sends the key back to the queue, to decide again on fresh state).
    func patchFinalizers(_ resource: StoredResource, _ finalizers: [String]) async throws {
        guard let api = self.resource(for: resource.key.kind) else { return }
        struct FinalizerPatch: Encodable {
            struct Metadata: Encodable {
                var finalizers: [String]
                var resourceVersion: String
            }
            var metadata: Metadata
        }
        let patch = FinalizerPatch(
            metadata: .init(finalizers: finalizers, resourceVersion: String(resource.resourceVersion)))
        do {
            let updated = try await client.mergePatch(
                api, namespace: resource.key.namespace, name: resource.key.name, try JSONDocument(encoding: patch).data)
            remember(updated, key: resource.key)
            rememberFinalizers(updated, key: resource.key)
        } catch let error as KubeError where error.isNotFound && finalizers.isEmpty {
            return  // already gone
        }
    }

    /// Marks an object the API server accepted but Reel's rules refuse: `Failed`/`InvalidSpec` (or, for a pool, a
    /// `ScalingActive=False` condition) with every problem, once per generation, and a Warning Event.
    func reportInvalid(_ key: ResourceKey, object: Data, problems: [FieldProblem]) async {
        guard let metadata = try? JSONDecoder().decode(PartialObject.self, from: object).metadata,
            let uid = metadata.uid
        else { return }
        let generation = Int64(metadata.generation ?? 0)
        let first = state.withLock { state -> Bool in
            if let reported = state.reportedInvalid[key], reported.uid == uid, reported.generation == generation {
                return false
            }
            state.reportedInvalid[key] = (uid, generation)
            return true
        }
        guard first, let api = resource(for: key.kind) else { return }
        let message = problems.map { "\($0.path.isEmpty ? "" : "\($0.path): ")\($0.message)" }.joined(separator: "; ")
        logger.error("\(key) is invalid: \(message)")
        let now = Timestamp(Date())
        let condition = Condition(
            type: key.kind == VideoJob.names.kind ? "Succeeded" : "ScalingActive", status: .false,
            reason: "InvalidSpec",
            message: message, lastTransitionTime: now, observedGeneration: Int(generation))
        do {
            let status: Data
            if key.kind == VideoJob.names.kind {
                status = try JSONEncoder().encode(
                    VideoJobStatus(
                        observedGeneration: Int(generation), phase: .Failed, conditions: [condition]))
            } else {
                status = try JSONEncoder().encode(
                    WorkerPoolStatus(observedGeneration: Int(generation), conditions: [condition]))
            }
            _ = try await writeStatus(JSONDecoder().decode(JSONValue.self, from: status), api: api, key: key)
        } catch {
            logger.warning("cannot mark \(key) invalid: \(error)")
        }
        if let events {
            await events.record(
                ObjectReference(
                    apiVersion: API.version, kind: key.kind, namespace: key.namespace, name: key.name, uid: uid),
                type: "Warning", reason: "InvalidSpec", action: "Validate", note: message)
        }
    }
}
