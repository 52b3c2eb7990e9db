/// The status of a condition, as in Kubernetes.
public enum ConditionStatus: String, Codable, Sendable, CaseIterable {
    case `true` = "True"
    case `false` = "False"
    case unknown = "Unknown"
}

/// One observation about a resource, in the shape of Kubernetes' `metav1.Condition`. Conditions are a list keyed
/// by `type`; `lastTransitionTime` changes only when `status` flips.
public struct Condition: Codable, Sendable, Equatable {
    /// CamelCase type, e.g. `Ingested`, `Succeeded`.
    public var type: String
    public var status: ConditionStatus
    /// The generation the condition was computed for.
    public var observedGeneration: Int?
    /// When `status` last changed.
    public var lastTransitionTime: Timestamp
    /// CamelCase, machine-readable cause, e.g. `SourceStored`, `InvalidMedia`.
    public var reason: String
    /// Human-readable detail.
    public var message: String

    /// A condition with every field given.
    public init(
        type: String, status: ConditionStatus, reason: String, message: String, lastTransitionTime: Timestamp,
        observedGeneration: Int? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }

    static let schema = Schema.object(
        "A condition in the shape of metav1.Condition.",
        required: ["type", "status", "lastTransitionTime", "reason", "message"],
        [
            .init(
                "type",
                .string(
                    "Type of condition in CamelCase.", pattern: Patterns.conditionType,
                    hint: "must be a CamelCase condition type, optionally prefixed by a DNS subdomain and '/'",
                    maxLength: 316)),
            .init("status", .enumeration(ConditionStatus.self, "Status of the condition: True, False or Unknown.")),
            .init(
                "observedGeneration",
                .integer("The metadata.generation the condition was set for.", minimum: 0)),
            .init(
                "lastTransitionTime",
                .string("When the condition last changed from one status to another.", format: "date-time")),
            .init(
                "reason",
                .string(
                    "A CamelCase, programmatic identifier of the reason for the last transition.",
                    pattern: Patterns.conditionReason,
                    hint: "must be CamelCase: a letter, then letters, digits, '_', ',' or ':'",
                    minLength: 1, maxLength: 1024)),
            .init("message", .string("A human-readable message about the transition.", maxLength: 32768)),
        ])

    static let listSchema = Schema.array(
        "Observations of the resource's state.", of: schema, listType: "map", mapKeys: ["type"])
}
