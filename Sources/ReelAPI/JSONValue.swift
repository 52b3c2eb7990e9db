import ReelYAML

/// Any JSON value, for fields Reel passes through without reading (a pod template's `resources`, `env`…).
public indirect enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    private struct FieldKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: FieldKey.self) {
            var object: [String: JSONValue] = [:]
            for key in keyed.allKeys { object[key.stringValue] = try keyed.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        } else if var unkeyed = try? decoder.unkeyedContainer() {
            var array: [JSONValue] = []
            while !unkeyed.isAtEnd { array.append(try unkeyed.decode(JSONValue.self)) }
            self = .array(array)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                self = .null
            } else if let b = try? single.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? single.decode(Int.self) {
                self = .int(i)
            } else if let d = try? single.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try single.decode(String.self))
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let object):
            var c = encoder.container(keyedBy: FieldKey.self)
            for (key, value) in object.sorted(by: { $0.key < $1.key }) {
                try c.encode(value, forKey: FieldKey(stringValue: key))
            }
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public typealias Key = String
    public typealias Value = JSONValue
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension YAMLNode {
    /// A JSON value as a document node, without a text round trip: objects' keys in sorted order (a JSON object
    /// has none), every mark `.unknown` (JSON from an API server has no positions).
    public init(json: JSONValue) {
        switch json {
        case .null: self.init(.null)
        case .bool(let value): self.init(.bool(value))
        case .int(let value): self.init(.int(value))
        case .double(let value): self.init(.double(value))
        case .string(let value): self.init(.string(value))
        case .array(let items): self.init(.sequence(items.map(YAMLNode.init(json:))))
        case .object(let fields):
            self.init(
                .mapping(
                    fields.keys.sorted().map { key in
                        YAMLPair(key: YAMLNode(.string(key)), value: YAMLNode(json: fields[key] ?? .null))
                    }))
        }
    }
}

extension JSONValue {
    /// This value with a JSON merge patch (RFC 7386) applied: objects merge key by key, `null` removes a key,
    /// anything else replaces.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var fields: [String: JSONValue] = [:]
        if case .object(let existing) = self { fields = existing }
        for (key, value) in changes {
            fields[key] = value == .null ? nil : (fields[key] ?? .null).merging(patch: value)
        }
        return .object(fields)
    }
}
