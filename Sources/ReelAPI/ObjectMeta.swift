import ReelYAML

/// The metadata every resource carries (the fields of Kubernetes' `metav1.ObjectMeta` that Reel reads).
public struct ObjectMeta: Codable, Sendable, Equatable {
    /// The resource's name, unique per kind and namespace.
    public var name: String
    /// The namespace; `default` when absent.
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Set by the backend when the resource is first seen; stable for its lifetime.
    public var uid: String?
    /// Bumped by the backend when the spec changes (and only then).
    public var generation: Int?
    /// Changes on every write; opaque.
    public var resourceVersion: String?
    /// Keys that must be removed before the resource is really deleted.
    public var finalizers: [String]?
    public var creationTimestamp: Timestamp?
    /// Set when deletion was asked for while finalizers remain.
    public var deletionTimestamp: Timestamp?

    /// Metadata for `name` in `namespace`.
    public init(name: String, namespace: String? = nil) {
        self.name = name
        self.namespace = namespace
    }

    /// The namespace, with Kubernetes' default.
    public var effectiveNamespace: String { namespace ?? "default" }

    /// The fields of `metadata` a document may hold. Server-managed fields Reel does not model
    /// (`managedFields`, `ownerReferences`, …) are accepted so objects read back from a cluster validate.
    static let schema = Schema.object(
        "Standard object metadata.", required: ["name"],
        [
            .init("name", .string("The resource's name.")),
            .init("generateName", .string("A prefix the server completes into a unique name.")),
            .init("namespace", .string("The namespace.")),
            .init("labels", .map("Labels.", of: .string("A label value."))),
            .init("annotations", .map("Annotations.", of: .string("An annotation value."))),
            .init("uid", .string("Unique id, set by the backend.")),
            .init("generation", .integer("Spec generation, set by the backend.", minimum: 0)),
            .init("resourceVersion", .string("Opaque version, set by the backend.")),
            .init("finalizers", .array("Finalizers.", of: .string("A finalizer."), listType: "set")),
            .init("creationTimestamp", .string("Creation time.", format: "date-time")),
            .init("deletionTimestamp", .string("Deletion request time.", format: "date-time")),
            .init("deletionGracePeriodSeconds", .integer("Grace period.", minimum: 0)),
            .init("selfLink", .string("Deprecated self link.")),
            .init("ownerReferences", Schema(.any, "Owners.")),
            .init("managedFields", Schema(.any, "Server-side apply bookkeeping.")),
        ])

    /// Name rules beyond the schema: DNS-1123 names, qualified label/annotation keys, label values.
    /// `nameRule` says which DNS-1123 form the kind's name must take.
    static func check(_ node: YAMLNode, path: String, nameRule: NameRule) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        func add(_ field: String, _ mark: YAMLMark, _ messages: [String], code: FieldProblem.Code = .invalid) {
            problems += messages.map { FieldProblem(code, field, mark, $0) }
        }
        if let name = node["name"], let text = name.string {
            let field = FieldPath.child(path, "name")
            switch nameRule {
            case .subdomain: add(field, name.mark, Patterns.dns1123SubdomainProblems(text))
            case .label(let max): add(field, name.mark, Patterns.dns1123LabelProblems(text, maxLength: max))
            }
        }
        if let namespace = node["namespace"], let text = namespace.string {
            add(FieldPath.child(path, "namespace"), namespace.mark, Patterns.dns1123LabelProblems(text))
        }
        for (field, checkValues) in [("labels", true), ("annotations", false)] {
            guard let pairs = node[field]?.pairs else { continue }
            var total = 0
            for pair in pairs {
                guard let key = pair.key.string else { continue }
                let keyPath = FieldPath.key(FieldPath.child(path, field), key)
                add(keyPath, pair.key.mark, Patterns.qualifiedNameProblems(key).map { "key \($0)" })
                if checkValues, let value = pair.value.string {
                    add(keyPath, pair.value.mark, Patterns.labelValueProblems(value))
                }
                total += key.utf8.count + (pair.value.string?.utf8.count ?? 0)
            }
            if !checkValues, total > 256 * 1024 {
                add(
                    FieldPath.child(path, field), node[field]!.mark, ["must total at most 256 KiB (is \(total) bytes)"],
                    code: .tooLong)
            }
        }
        for (index, finalizer) in (node["finalizers"]?.items ?? []).enumerated() {
            guard let text = finalizer.string else { continue }
            let field = FieldPath.index(FieldPath.child(path, "finalizers"), index)
            add(field, finalizer.mark, Patterns.qualifiedNameProblems(text))
        }
        return problems
    }

    /// Which DNS-1123 form a kind's names take.
    enum NameRule {
        /// A subdomain, at most 253 characters.
        case subdomain
        /// A label of at most the given length (shorter than 63 where Reel derives other names from it).
        case label(Int)
    }
}
