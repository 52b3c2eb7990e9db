import ReelYAML

/// A structural OpenAPI v3 schema, the Kubernetes subset: the one description of a resource's shape from which
/// Reel validates documents (`SchemaValidator`), applies defaults (`SchemaDefaulter`) and generates CRDs.
public struct Schema: Sendable {
    /// The shape of the value.
    public indirect enum Kind: Sendable {
        case string, integer, number, boolean
        /// An object with known properties; anything else is an unknown field.
        case object([Property])
        /// A list of items of one schema.
        case array(Schema)
        /// An object with free string keys, each value of one schema (`additionalProperties`).
        case map(Schema)
        /// Any value, kept as it is (`x-kubernetes-preserve-unknown-fields`).
        case any
        /// An object whose fields Kubernetes manages (`metadata`); Reel checks it with `ObjectMeta`'s rules.
        case metadata
    }

    /// A named property of an object schema.
    public struct Property: Sendable {
        public var name: String
        public var schema: Schema
        public init(_ name: String, _ schema: Schema) {
            self.name = name
            self.schema = schema
        }
    }

    public var kind: Kind
    /// What the field means, as `kubectl explain` shows it.
    public var description: String
    /// Allowed string values.
    public var enumValues: [String] = []
    public var minimum: Double?
    public var maximum: Double?
    /// An anchored regular expression (RE2, ECMA-262 and Swift agree on the ones Reel uses).
    public var pattern: String?
    /// What to say when `pattern` does not match (instead of quoting the expression).
    public var patternHint: String?
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    /// `date-time` for RFC 3339 timestamps.
    public var format: String?
    /// The value the field takes when absent (or null).
    public var defaultValue: YAMLNode?
    /// Required properties of an object.
    public var required: [String] = []
    /// `atomic`, `set` or `map` (`x-kubernetes-list-type`).
    public var listType: String?
    /// The keys of a `map` list (`x-kubernetes-list-map-keys`).
    public var listMapKeys: [String] = []

    /// A schema of `kind` described by `description`.
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The properties of an object schema (empty for other kinds).
    public var properties: [Property] {
        if case .object(let properties) = kind { return properties }
        return []
    }

    /// The schema of property `name` of an object schema.
    public func property(_ name: String) -> Schema? {
        properties.first { $0.name == name }?.schema
    }
}

// Builders that read like the CRD they produce.
extension Schema {
    /// A string field.
    public static func string(
        _ description: String, pattern: String? = nil, hint: String? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, format: String? = nil, default value: String? = nil
    ) -> Schema {
        var s = Schema(.string, description)
        s.pattern = pattern
        s.patternHint = hint
        s.minLength = minLength
        s.maxLength = maxLength
        s.format = format
        s.defaultValue = value.map { YAMLNode(.string($0)) }
        return s
    }

    /// A string field whose values are the raw values of `E`.
    public static func enumeration<E: CaseIterable & RawRepresentable>(
        _ type: E.Type, _ description: String, default value: E? = nil
    ) -> Schema where E.RawValue == String {
        enumeration(E.allCases.map(\.rawValue), description, default: value?.rawValue)
    }

    /// A string field that takes one of `values`.
    public static func enumeration(_ values: [String], _ description: String, default value: String? = nil) -> Schema {
        var s = Schema(.string, description)
        s.enumValues = values
        s.defaultValue = value.map { YAMLNode(.string($0)) }
        return s
    }

    /// An integer field.
    public static func integer(
        _ description: String, minimum: Int? = nil, maximum: Int? = nil, default value: Int? = nil
    ) -> Schema {
        var s = Schema(.integer, description)
        s.minimum = minimum.map(Double.init)
        s.maximum = maximum.map(Double.init)
        s.defaultValue = value.map { YAMLNode(.int($0)) }
        return s
    }

    /// A number field.
    public static func number(
        _ description: String, minimum: Double? = nil, maximum: Double? = nil, default value: Double? = nil
    ) -> Schema {
        var s = Schema(.number, description)
        s.minimum = minimum
        s.maximum = maximum
        s.defaultValue = value.map { YAMLNode(.double($0)) }
        return s
    }

    /// A boolean field.
    public static func boolean(_ description: String, default value: Bool? = nil) -> Schema {
        var s = Schema(.boolean, description)
        s.defaultValue = value.map { YAMLNode(.bool($0)) }
        return s
    }

    /// An object field with `properties`; `defaultsToEmpty` makes an absent object `{}` so that its own fields'
    /// defaults apply (the Kubernetes idiom for nested defaults).
    public static func object(
        _ description: String, required: [String] = [], defaultsToEmpty: Bool = false, _ properties: [Property]
    ) -> Schema {
        var s = Schema(.object(properties), description)
        s.required = required
        if defaultsToEmpty { s.defaultValue = YAMLNode(.mapping([])) }
        return s
    }

    /// A list field.
    public static func array(
        _ description: String, of item: Schema, minItems: Int? = nil, maxItems: Int? = nil, listType: String? = nil,
        mapKeys: [String] = []
    ) -> Schema {
        var s = Schema(.array(item), description)
        s.minItems = minItems
        s.maxItems = maxItems
        s.listType = listType
        s.listMapKeys = mapKeys
        return s
    }

    /// A string-keyed map field.
    public static func map(_ description: String, of value: Schema) -> Schema {
        Schema(.map(value), description)
    }
}
