import FoundationEssentials
import ReelAPI
import Synchronization

/// What an Event is about.
public struct ObjectReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var namespace: String
    public var name: String
    public var uid: String

    public init(apiVersion: String, kind: String, namespace: String, name: String, uid: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}

/// Records `events.k8s.io/v1` Events (CamelCase reasons, `Normal` or `Warning`) as the operator, aggregating a
/// repeat of the same reason and note about the same object into the first Event's `series` (count and last
/// time) instead of a new object each time.
///
/// It remembers the Events it made for the `capacity` most recently recorded (object, type, reason, note), as
/// client-go's correlator does: remembered for every object ever seen, they grew without end in a long-running
/// operator (3.5 MB for 10,000 jobs). A repeat of one forgotten, or of one the API server has since let expire
/// (`--event-ttl`, an hour by default), starts a new Event.
public final class EventRecorder: Sendable {
    static let events = KubeResource(group: "events.k8s.io", version: "v1", plural: "events")

    public let client: KubeClient
    public let controller: String
    public let instance: String
    public let capacity: Int
    private let recorded = Mutex(Remembered())

    /// The Events made, by what they are about, with when each was last used.
    struct Remembered {
        var events: [String: (name: String, namespace: String, count: Int, used: UInt64)] = [:]
        var clock: UInt64 = 0

        /// The event for `key`, marked as used now.
        mutating func use(_ key: String) -> (name: String, namespace: String, count: Int)? {
            guard let event = events[key] else { return nil }
            clock += 1
            events[key]?.used = clock
            return (event.name, event.namespace, event.count)
        }

        /// Remembers `key`'s event; past `capacity`, the least recently used quarter is forgotten.
        mutating func remember(_ key: String, name: String, namespace: String, count: Int, capacity: Int) {
            clock += 1
            if events[key] == nil, events.count >= capacity {
                let oldest = events.sorted { $0.value.used < $1.value.used }.prefix(max(1, capacity / 4))
                for (forgotten, _) in oldest { events[forgotten] = nil }
            }
            events[key] = (name, namespace, count, clock)
        }
    }

    public init(
        client: KubeClient, controller: String = "reel.dev/operator", instance: String, capacity: Int = 4096
    ) {
        self.client = client
        self.controller = controller
        self.instance = instance
        self.capacity = max(1, capacity)
    }

    /// How many Events it remembers now.
    public var remembered: Int { recorded.withLock { $0.events.count } }

    /// Records an event; a repeat updates the existing one's series. Failures are returned, never thrown:
    /// events are best effort.
    @discardableResult
    public func record(_ object: ObjectReference, type: String = "Normal", reason: String, action: String, note: String)
        async -> (any Error)?
    {
        let key = "\(object.uid)|\(type)|\(reason)|\(note)"
        let now = MicroTime(Date())
        do {
            if let existing = recorded.withLock({ $0.use(key) }) {
                let count = existing.count + 1
                struct SeriesPatch: Encodable { var series: KubeEvent.Series }
                do {
                    _ = try await client.mergePatch(
                        Self.events, namespace: existing.namespace, name: existing.name,
                        try KubeClient.body(SeriesPatch(series: KubeEvent.Series(count: count, lastObservedTime: now)))
                    )
                    recorded.withLock {
                        $0.remember(
                            key, name: existing.name, namespace: existing.namespace, count: count, capacity: capacity)
                    }
                    return nil
                } catch let error as KubeError where error.isNotFound {
                    recorded.withLock { $0.events[key] = nil }  // expired: a new Event below
                }
            }
            let keyHash = String(UInt64(UInt(bitPattern: key.hashValue) & 0xffff_ffff), radix: 16)
            let millis = String(UInt64(Date().timeIntervalSince1970 * 1000) & 0xffff, radix: 16)
            let name = "\(object.name).\(keyHash)\(millis)"
            let event = KubeEvent(
                metadata: ObjectMeta(name: name, namespace: object.namespace), eventTime: now, type: type,
                reason: reason, action: action, note: String(note.prefix(1024)), reportingController: controller,
                reportingInstance: instance,
                regarding: KubeEvent.Regarding(
                    apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name,
                    uid: object.uid))
            _ = try await client.create(Self.events, namespace: object.namespace, try KubeClient.body(event))
            recorded.withLock {
                $0.remember(key, name: name, namespace: object.namespace, count: 1, capacity: capacity)
            }
            return nil
        } catch {
            return error
        }
    }
}
