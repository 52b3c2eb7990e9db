/// A position in a YAML (or JSON) text: 1-based line and column, columns counted in characters.
public struct YAMLMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 1-based line.
    public var line: Int
    /// The 1-based column, in Unicode characters as libyaml counts them.
    public var column: Int

    /// A mark at `line` and `column` (both 1-based).
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// Where nodes built in code (not parsed) are said to be.
    public static let unknown = YAMLMark(line: 0, column: 0)

    public static func < (lhs: YAMLMark, rhs: YAMLMark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// One node of a parsed document: a JSON-compatible value and where it starts.
///
/// Equality compares values only: two nodes are equal when they say the same thing, wherever they stand.
public struct YAMLNode: Sendable, Equatable, CustomStringConvertible {
    /// What the node holds.
    public var value: YAMLValue
    /// Where the node starts in its text (`.unknown` when built in code).
    public var mark: YAMLMark

    /// A node holding `value`, found at `mark`.
    public init(_ value: YAMLValue, mark: YAMLMark = .unknown) {
        self.value = value
        self.mark = mark
    }

    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool { lhs.value == rhs.value }

    public var description: String { value.description }
}

/// A key and its value in a mapping, both with their positions.
public struct YAMLPair: Sendable, Equatable {
    /// The key; Reel's documents use scalar keys only.
    public var key: YAMLNode
    /// The value.
    public var value: YAMLNode

    /// A pair of `key` and `value`.
    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// The JSON-compatible values of YAML 1.2's core schema. Mappings keep their keys in document order.
public indirect enum YAMLValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case sequence([YAMLNode])
    case mapping([YAMLPair])

    /// The name of this kind of value, as errors say it ("string", "mapping", …).
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .sequence: "sequence"
        case .mapping: "mapping"
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): String(b)
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): "\"\(s)\""
        case .sequence(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let pairs):
            "{" + pairs.map { "\($0.key.description): \($0.value.description)" }.joined(separator: ", ") + "}"
        }
    }
}

extension YAMLNode {
    /// The string a scalar key or value holds, as written (`nil` for sequences, mappings and null).
    public var scalarText: String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        case .null, .sequence, .mapping: nil
        }
    }

    /// The string this node holds, if it is a string.
    public var string: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    /// The pairs of a mapping node, or `nil`.
    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = value { return pairs }
        return nil
    }

    /// The items of a sequence node, or `nil`.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// The value under a string key of a mapping node (the first, though parsed documents have no duplicates).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = value else { return nil }
        return pairs.first { $0.key.string == key }?.value
    }

    /// The pair whose key is the string `key`, with the key's own position.
    public func pair(_ key: String) -> YAMLPair? {
        pairs?.first { $0.key.string == key }
    }
}

extension YAMLNode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self.init(.string(value)) }
    public init(integerLiteral value: Int) { self.init(.int(value)) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(floatLiteral value: Double) { self.init(.double(value)) }
    public init(nilLiteral: ()) { self.init(.null) }
    public init(arrayLiteral elements: YAMLNode...) { self.init(.sequence(elements)) }
    /// A mapping in the order written; keys are strings.
    public init(dictionaryLiteral elements: (String, YAMLNode)...) {
        self.init(.mapping(elements.map { YAMLPair(key: YAMLNode(.string($0.0)), value: $0.1) }))
    }
}
