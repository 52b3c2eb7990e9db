import Foundation
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
public final class EventRecorder: Sendable {
    static let events = KubeResource(group: "events.k8s.io", version: "v1", plural: "events")

    public let client: KubeClient
    public let controller: String
    public let instance: String
    private let recorded = Mutex<[String: (name: String, namespace: String, count: Int)]>([:])

    public init(client: KubeClient, controller: String = "reel.dev/operator", instance: String) {
        self.client = client
        self.controller = controller
        self.instance = instance
    }

    /// Records an event; a repeat updates the existing one's series. Failures are returned, never thrown:
    /// events are best effort.
    @discardableResult
    public func record(_ object: ObjectReference, type: String = "Normal", reason: String, action: String, note: String)
        async -> (any Error)?
    {
        let key = "\(object.uid)|\(type)|\(reason)|\(note)"
        let now = MicroTime(Date())
        do {
            if let existing = recorded.withLock({ $0[key] }) {
                let count = existing.count + 1
                struct SeriesPatch: Encodable { var series: KubeEvent.Series }
                _ = try await client.mergePatch(
                    Self.events, namespace: existing.namespace, name: existing.name,
                    try KubeClient.body(SeriesPatch(series: KubeEvent.Series(count: count, lastObservedTime: now))))
                recorded.withLock { $0[key]?.count = count }
                return nil
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
            recorded.withLock { $0[key] = (name, object.namespace, 1) }
            return nil
        } catch {
            return error
        }
    }
}
