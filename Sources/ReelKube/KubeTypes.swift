import FoundationEssentials
import ReelHTTP

/// A `Status` the API server answered with (or a transport failure): code, reason, message.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    /// HTTP status (0 for transport failures).
    public var code: Int
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Gone`, `Expired`, `Forbidden`…
    public var reason: String
    public var message: String

    public var description: String { "\(code) \(reason): \(message)" }

    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 }
    /// A watch's resourceVersion is too old (410 Gone / Expired): relist.
    public var isGone: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
}

/// Where a kind lives: `/apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME[/SUBRESOURCE]]` (or `/api/v1/…` for the
/// core group).
public struct KubeResource: Sendable, Equatable {
    public var group: String
    public var version: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    /// The path of the collection (namespace `nil`: all namespaces) or of one object.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(plural)"
        if let name { path += "/\(name)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }
}

/// One event of a watch.
public struct WatchEvent: Sendable {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    public var type: String
    /// The object (for `ERROR`, a `Status`).
    public var object: Data
    /// The object's `metadata.resourceVersion`.
    public var resourceVersion: String?
}

/// A page of a list.
public struct KubeList: Sendable {
    /// Each item's JSON.
    public var items: [Data]
    public var resourceVersion: String?
    /// Set when more pages follow.
    public var continueToken: String?
}
