import FoundationEssentials
import ReelAPI
import ReelKube
import ReelCore
import ReelSupport

extension KubernetesBackend {
    // MARK: reading

    public func list(kind: String?) async throws -> [StoredResource] {
        let kinds = kind.map { [$0] } ?? [VideoJob.names.kind, WorkerPool.names.kind]
        var result: [StoredResource] = []
        for kind in kinds {
            guard let informer = informer(for: kind) else { continue }
            let keys = informer.keys.map { Self.resourceKey(kind: kind, $0) }
            // Looked up under the lock, not in a snapshot of the dictionary: a parse while a snapshot is held
            // copies the whole dictionary (4 MB at 10,000 jobs).
            let (hot, cold) = state.withLock { state in
                (keys.compactMap { state.parsed[$0]?.resource }, Set(keys.filter { state.cold[$0] != nil }))
            }
            result += hot
            if !cold.isEmpty { result += try await read(cold, kind: kind) }
        }
        return result.sorted { $0.key < $1.key }
    }

    /// Cold objects as the API server has them now, in one list, without parsing them into the cache (a list
    /// of every job would otherwise undo the compaction).
    private func read(_ keys: Set<ResourceKey>, kind: String) async throws -> [StoredResource] {
        guard let api = resource(for: kind) else { return [] }
        return try await client.listAll(api, namespace: namespace).items.compactMap { object in
            guard let cacheKey = Informer.key(object) else { return nil }
            let key = Self.resourceKey(kind: kind, cacheKey)
            return keys.contains(key) ? decodeParsed(object, key: key)?.resource : nil
        }
    }

    public func keys(kind: String) async throws -> [ResourceKey] {
        guard let informer = informer(for: kind) else { return [] }
        return informer.keys.map { Self.resourceKey(kind: kind, $0) }.sorted()
    }

    public func unsettledKeys(kind: String) async throws -> [ResourceKey] {
        guard let informer = informer(for: kind) else { return [] }
        let keys = informer.keys.map { Self.resourceKey(kind: kind, $0) }
        return state.withLock { state in keys.filter { state.cold[$0] == nil && state.parsed[$0]?.settled != true } }
            .sorted()
    }

    /// The object from the cache; a cold one from the API server (then parsed and cached until it is cold again).
    public func get(_ key: ResourceKey) async throws -> StoredResource? {
        guard let informer = informer(for: key.kind), informer.contains("\(key.namespace)/\(key.name)") else {
            return nil
        }
        let (cached, cold) = state.withLock { state -> (Parsed?, Bool) in
            guard state.parsed[key] != nil else { return (nil, state.cold[key] != nil) }
            state.parsed[key]?.touched = true
            return (state.parsed[key], false)
        }
        var parsed = cached
        if cold, let api = self.resource(for: key.kind) {
            let object: Data
            do { object = try await client.get(api, namespace: key.namespace, name: key.name) } catch let error
                as KubeError where error.isNotFound
            {
                return nil  // deleted meanwhile: its watch event follows
            }
            parsed = remember(object, key: key)
        }
        guard let deleting = parsed?.deletingInvalid else { return parsed?.resource }
        // Invalid and being deleted: its cleanup uses the spec it was last processed with. One never processed
        // left nothing to clean up; its own spec will do for that, if it reads as a VideoJob spec at all.
        var spec: JSONDocument?
        if let uid = deleting.metadata.uid { spec = try await lastSpec(uid) }
        if spec == nil, let own = try? deleting.spec.map({ try JSONDocument(encoding: $0) }),
            (try? own.decode(VideoJobSpec.self)) != nil
        {
            spec = own
        }
        return spec.flatMap { Self.stored(deleting, key: key, fallback: $0).1 }
    }

    // MARK: cold objects

    /// Whether `object` is a cold job at the version it went cold at.
    func isCold(_ key: ResourceKey, _ object: Data) -> Bool {
        guard let version = state.withLock({ $0.cold[key] }) else { return false }
        return (try? JSONDecoder().decode(PartialObject.self, from: object))?.metadata.resourceVersion == version
    }

    /// Lets go of the parsed form of every settled VideoJob that no read and no new version has touched since the
    /// last call, keeping its resourceVersion (`State.cold`); returns how many. Runs every `coldAfter`, so a job
    /// goes cold between one and two periods after it was last read; keys in `pending` (queued for a reconcile)
    /// stay. The memory freed goes back to the system.
    @discardableResult
    func compactSettled(except pending: Set<ResourceKey> = []) -> Int {
        let moved = state.withLock { state -> Int in
            var untouched: [ResourceKey] = []
            var cooling: [ResourceKey] = []
            for (key, entry) in state.parsed where entry.settled {
                if entry.touched || pending.contains(key) { untouched.append(key) } else { cooling.append(key) }
            }
            // After the loop: a write while the loop holds the dictionary would copy it whole.
            for key in untouched { state.parsed[key]?.touched = false }
            for key in cooling {
                guard let entry = state.parsed.removeValue(forKey: key) else { continue }
                state.cold[key] = entry.resourceVersion
            }
            // A dictionary keeps its capacity when emptied: 10,000 parsed jobs leave 4 MB of slots behind.
            if !cooling.isEmpty, state.parsed.capacity > 1_024, state.parsed.count < state.parsed.capacity / 4 {
                var smaller = [ResourceKey: Parsed](minimumCapacity: state.parsed.count)
                for (key, entry) in state.parsed { smaller[key] = entry }
                state.parsed = smaller
            }
            return cooling.count
        }
        if moved >= 100 { MallocArenas.trim() }
        return moved
    }
}
