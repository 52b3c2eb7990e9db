import FoundationEssentials
import Synchronization
import ReelSupport

/// What changed in an informer's cache.
public enum InformerEvent: Sendable {
    /// The cache was (re)filled from a full list: every current object was handed on as `.upsert` before it,
    /// and every one gone since the last list as `.delete`.
    case synced
    case upsert(key: String, object: Data)
    case delete(key: String)
}

/// List, then watch from the list's resourceVersion, keeping which objects exist by `namespace/name` and the
/// resourceVersion last seen of each — not the objects: the handler keeps what it needs of them (the Kubernetes
/// backend, each object parsed), and a second copy of every object's JSON cost an operator holding 10,000 jobs
/// about 16 MB. Bookmarks move the resume point, a dropped watch resumes from the last version seen (after a
/// backoff of 0.8 s doubling to 30 s, with jitter), and `410 Gone` leads to a fresh list whose differences from
/// the cache are reported, so no change is lost.
public final class Informer: Sendable {
    public let client: KubeClient
    public let resource: KubeResource
    public let namespace: String?
    /// Objects per page of a list (each page is handed on before the next is read).
    public let pageSize: Int
    /// resourceVersion by `namespace/name` (`Int64.min` where an object had none).
    private let cache = Mutex<[String: Int64]>([:])
    private let stats = Mutex((lists: 0, watches: 0))

    public init(client: KubeClient, resource: KubeResource, namespace: String?, pageSize: Int = 500) {
        self.pageSize = pageSize
        self.client = client
        self.resource = resource
        self.namespace = namespace
    }

    /// The objects' `namespace/name`, unordered.
    public var keys: [String] { cache.withLock { Array($0.keys) } }
    /// Whether the object `namespace/name` exists, as far as the cache knows.
    public func contains(_ key: String) -> Bool { cache.withLock { $0[key] != nil } }
    /// How many full lists and watch connections it has made.
    public var counts: (lists: Int, watches: Int) { stats.withLock { $0 } }

    /// Puts an object this client just wrote into the cache, unless the cache already holds a later version of
    /// it, so a read right after a write sees the write (the watch event for it arrives later and changes nothing).
    public func remember(_ object: Data) {
        guard let key = Self.key(object) else { return }
        _ = record(key, version: Self.resourceVersion(object))
    }

    /// Notes `version` of `key` unless the cache holds a later one; whether it did.
    private func record(_ key: String, version: Int64?) -> Bool {
        cache.withLock { cache in
            if let old = cache[key], let version, old > version { return false }
            cache[key] = version ?? .min
            return true
        }
    }

    /// An object's resourceVersion as a number (etcd's revision; opaque to clients, but only compared here to
    /// keep a later version over an earlier one of the same object).
    static func resourceVersion(_ object: Data) -> Int64? {
        (try? JSONDecoder().decode(PartialObject.self, from: object))?.metadata.resourceVersion.flatMap { Int64($0) }
    }

    /// `namespace/name` of an object.
    public static func key(_ object: Data) -> String? {
        guard let metadata = try? JSONDecoder().decode(PartialObject.self, from: object).metadata else { return nil }
        return "\(metadata.namespace ?? "")/\(metadata.name)"
    }

    /// Runs until cancelled, calling `handle` for every change (in order, one at a time).
    public func run(
        watchTimeoutSeconds: Int = 300,
        backoff: Backoff = Backoff(initial: .milliseconds(800), maximum: .seconds(30)),
        handle: @Sendable (InformerEvent) async -> Void
    ) async {
        var resourceVersion: String? = nil
        var failures = 0
        while !Task.isCancelled {
            do {
                if resourceVersion == nil {
                    resourceVersion = try await relist(handle)
                }
                stats.withLock { $0.watches += 1 }
                for try await event in try await client.watch(
                    resource, namespace: namespace, resourceVersion: resourceVersion,
                    timeoutSeconds: watchTimeoutSeconds)
                {
                    failures = 0
                    if let version = event.resourceVersion { resourceVersion = version }
                    guard event.type != "BOOKMARK", let key = Self.key(event.object) else { continue }
                    if event.type == "DELETED" {
                        cache.withLock { _ = $0.removeValue(forKey: key) }
                        await handle(.delete(key: key))
                    } else {
                        if record(key, version: Self.resourceVersion(event.object)) {
                            await handle(.upsert(key: key, object: event.object))
                        }
                    }
                }
                // The server closed the watch (its timeout): resume from where we are.
            } catch let error as KubeError where error.isGone {
                resourceVersion = nil  // too old: list again
            } catch {
                if Task.isCancelled { return }
                // A refused token (401) is an exec plugin's to renew before the next watch.
                if let error = error as? KubeError, error.code == 401 { await client.connection.exec?.invalidate(nil) }
                failures += 1
                // Cancelled while waiting: the loop's condition ends it.
                try? await Task.sleep(for: backoff.delay(after: failures))
            }
        }
    }

    /// Lists everything, page by page, handing on each page's objects before it reads the next; then reports
    /// what went away and `.synced`, and returns the list's resourceVersion. A whole list held at once was, at
    /// 10,000 objects, 10–16 MB of JSON beside the objects parsed from it, and its peak stayed in the process.
    private func relist(_ handle: @Sendable (InformerEvent) async -> Void) async throws -> String? {
        var seen: Set<String> = []
        let resourceVersion = try await client.forEachPage(resource, namespace: namespace, pageSize: pageSize) { page in
            for item in page.items {
                guard let key = Self.key(item) else { continue }
                seen.insert(key)
                let version = Self.resourceVersion(item) ?? .min
                cache.withLock { $0[key] = version }
                await handle(.upsert(key: key, object: item))
            }
        }
        stats.withLock { $0.lists += 1 }
        let gone = cache.withLock { cache -> [String] in
            let gone = cache.keys.filter { !seen.contains($0) }
            for key in gone { cache[key] = nil }
            return gone.sorted()
        }
        for key in gone { await handle(.delete(key: key)) }
        await handle(.synced)
        return resourceVersion
    }
}
