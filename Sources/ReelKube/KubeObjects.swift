import FoundationEssentials
import ReelAPI
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `metav1.MicroTime`: RFC 3339 in UTC with exactly six fractional digits (what the API server parses).
public struct MicroTime: Codable, Sendable, Hashable, CustomStringConvertible {
    public var date: Date

    public init(_ date: Date) { self.date = date }

    public var description: String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        var whole = time_t(seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        let micros = min(999_999, Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded()))
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
        let time = "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        return "\(day)T\(time).\(pad(Int32(micros), 6))Z"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not a MicroTime")
        }
        date = parsed.date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `coordination.k8s.io/v1` Lease: who leads, since when, for how long.
public struct Lease: Codable, Sendable, Equatable {
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Equatable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: MicroTime?
        public var renewTime: MicroTime?
        public var leaseTransitions: Int?
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `events.k8s.io/v1` Event, as Reel records them.
public struct KubeEvent: Codable, Sendable, Equatable {
    public var apiVersion = "events.k8s.io/v1"
    public var kind = "Event"
    public var metadata: ObjectMeta
    public var eventTime: MicroTime
    public var type: String
    public var reason: String
    public var action: String
    public var note: String
    public var reportingController: String
    public var reportingInstance: String
    public var regarding: Regarding
    public var series: Series?

    /// The object the Event is about.
    public struct Regarding: Codable, Sendable, Equatable {
        public var apiVersion: String
        public var kind: String
        public var namespace: String
        public var name: String
        public var uid: String
    }

    /// A repeated Event: how often, and when last.
    public struct Series: Codable, Sendable, Equatable {
        public var count: Int
        public var lastObservedTime: MicroTime
    }
}

/// Any object, read for its metadata only (the informer's and the actuators' view).
public struct PartialObject: Decodable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
}

extension KubeClient {
    /// Encodes an object for a request body.
    static func body(_ object: some Encodable) throws -> Data { try JSONDocument(encoding: object).data }

    /// The object without `metadata.managedFields`, server-side apply's record of which manager owns which field.
    /// Listed and watched objects are what caches keep, and nothing in Reel reads that record: left in, the
    /// operator holding 10,000 VideoJobs took 126 MB instead of 113 (client-go's informers drop it the same way).
    package static func withoutManagedFields(_ object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object, case .object(var metadata)? = fields["metadata"],
            metadata.removeValue(forKey: "managedFields") != nil
        else { return object }
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }
}

/// An `ownerReferences` entry.
public struct OwnerReference: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
}

/// An `apps/v1` Deployment as far as Reel reads one: its labels, its owners and its replicas.
public struct DeploymentSummary: Decodable, Sendable {
    public var metadata: Metadata
    public var spec: Spec?

    public struct Metadata: Decodable, Sendable {
        public var name: String
        public var labels: [String: String]?
        public var ownerReferences: [OwnerReference]?
    }

    public struct Spec: Decodable, Sendable {
        public var replicas: Int?
    }
}

/// A `v1` Secret's data (values base64) and stringData (values as they are).
public struct Secret: Decodable, Sendable {
    public var data: [String: String]?
    public var stringData: [String: String]?
}

/// `v1` DeleteOptions with preconditions.
struct DeleteOptions: Encodable {
    var apiVersion = "v1"
    var kind = "DeleteOptions"
    var preconditions: Preconditions

    struct Preconditions: Encodable {
        var uid: String
        var resourceVersion: String
    }
}

/// A list's envelope: its metadata and its items, each kept as the server sent it.
struct ListEnvelope: Decodable {
    var metadata: Metadata?
    /// Each item as `KubeClient.body` encodes it, without `managedFields`.
    var items: [Data]

    struct Metadata: Decodable {
        var resourceVersion: String?
        var `continue`: String?
    }

    enum CodingKeys: String, CodingKey { case metadata, items }

    /// Decodes the items one at a time, each encoded again before the next is read: one object's tree at a time
    /// rather than a page of 500 (3.5 MB of the operator's peak at start with 10,000 VideoJobs).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decodeIfPresent(Metadata.self, forKey: .metadata)
        items = []
        guard container.contains(.items), try !container.decodeNil(forKey: .items) else { return }
        var list = try container.nestedUnkeyedContainer(forKey: .items)
        items.reserveCapacity(list.count ?? 0)
        while !list.isAtEnd {
            items.append(try KubeClient.body(KubeClient.withoutManagedFields(try list.decode(JSONValue.self))))
        }
    }
}

/// A watch line: the event's type and its object.
struct WatchLine: Decodable {
    var type: String
    var object: JSONValue
}
