import ReelYAML

/// Reel's API group and version.
public enum API {
    public static let group = "reel.dev"
    public static let versionName = "v1alpha1"
    /// `reel.dev/v1alpha1`.
    public static let version = "\(group)/\(versionName)"
    /// The finalizer Reel puts on resources it must clean up after.
    public static let cleanupFinalizer = "reel.dev/cleanup"
    /// Reel's own version.
    public static let reelVersion = "0.1.0"
}

/// The names a kind goes by in the API.
public struct ResourceNames: Sendable {
    public var kind: String
    public var plural: String
    public var singular: String
    public var shortNames: [String]
    public var listKind: String { kind + "List" }
    /// The CRD's name, `<plural>.<group>`.
    public var crdName: String { "\(plural).\(API.group)" }
}

/// A column `kubectl get` prints.
public struct PrinterColumn: Sendable {
    public var name: String
    public var type: String
    public var jsonPath: String
    public var description: String
    /// 0 in the default view, 1 only with `-o wide`.
    public var priority: Int

    public init(_ name: String, _ type: String, _ jsonPath: String, _ description: String, priority: Int = 0) {
        self.name = name
        self.type = type
        self.jsonPath = jsonPath
        self.description = description
        self.priority = priority
    }
}

/// A kind of Reel resource: its names, its schemas (from which validation, defaulting and the CRD all come),
/// and the rules the schema cannot express.
public protocol ResourceKind: Codable, Sendable {
    static var names: ResourceNames { get }
    static var specSchema: Schema { get }
    static var statusSchema: Schema { get }
    static var printerColumns: [PrinterColumn] { get }
    var metadata: ObjectMeta { get set }
}

extension ResourceKind {
    /// The whole object's schema: apiVersion, kind, metadata, spec (required) and status.
    public static var schema: Schema {
        Schema.object(
            "\(names.kind) (\(API.version)).", required: ["apiVersion", "kind", "metadata", "spec"],
            [
                .init(
                    "apiVersion",
                    .string("The API version of this object, \(API.version).")),
                .init("kind", .string("The kind of this object, \(names.kind).")),
                .init("metadata", Schema(.metadata, "Standard object metadata.")),
                .init("spec", specSchema),
                .init("status", statusSchema),
            ])
    }
}
