/// An error decoding a `YAMLNode` into a `Decodable` type: the field path and the position of the node at fault.
public struct YAMLDecodingError: Error, Sendable, CustomStringConvertible {
    /// The field path, Kubernetes style: `spec.split.targetSeconds`, `spec.stages[1]`.
    public var path: String
    /// Where the offending node (or, for a missing field, its mapping) starts.
    public var mark: YAMLMark
    /// What is wrong.
    public var message: String

    public var description: String { "\(mark): \(path.isEmpty ? "" : path + ": ")\(message)" }
}

/// Decodes `Decodable` values straight from a `YAMLNode` tree, so every error names a position and a field path.
/// Scalars are strict: a number is not a string and a string is not a number, as in Kubernetes.
public enum YAMLNodeDecoder {
    /// Decodes `type` from `node`.
    public static func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode) throws -> T {
        try T(from: NodeDecoder(node: node, codingPath: []))
    }

    /// A coding path written the way Kubernetes writes field paths.
    public static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out
    }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private func failure(_ codingPath: [any CodingKey], _ mark: YAMLMark, _ message: String) -> YAMLDecodingError {
    YAMLDecodingError(path: YAMLNodeDecoder.fieldPath(codingPath), mark: mark, message: message)
}

private struct NodeDecoder: Decoder, SingleValueDecodingContainer {
    let node: YAMLNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let pairs = node.pairs else {
            throw failure(codingPath, node.mark, "expected a mapping, found \(node.value.kindName)")
        }
        return KeyedDecodingContainer(MappingContainer<Key>(node: node, pairs: pairs, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let items = node.items else {
            throw failure(codingPath, node.mark, "expected a sequence, found \(node.value.kindName)")
        }
        return SequenceContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { node.value == .null }

    private func mismatch(_ expected: String) -> YAMLDecodingError {
        failure(codingPath, node.mark, "expected \(expected), found \(node.value.kindName)")
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = node.value else { throw mismatch("a boolean") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = node.value else { throw mismatch("a string") }
        return s
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch node.value {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: throw mismatch("a number")
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .int(let i) = node.value else { throw mismatch("an integer") }
        guard let value = I(exactly: i) else {
            throw failure(codingPath, node.mark, "\(i) is out of range for \(I.self)")
        }
        return value
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == YAMLNode.self, let node = node as? T { return node }
        return try T(from: self)
    }
}

private struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let node: YAMLNode
    let values: [String: YAMLNode]
    let codingPath: [any CodingKey]
    let allKeys: [Key]

    init(node: YAMLNode, pairs: [YAMLPair], codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
        var values: [String: YAMLNode] = [:]
        var keys: [Key] = []
        for pair in pairs {
            guard let name = pair.key.scalarText else { continue }
            values[name] = pair.value
            if let key = Key(stringValue: name) { keys.append(key) }
        }
        self.values = values
        self.allKeys = keys
    }

    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    private func child(_ key: Key) throws -> NodeDecoder {
        guard let value = values[key.stringValue] else {
            throw failure(codingPath + [key], node.mark, "required field is missing")
        }
        return NodeDecoder(node: value, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = values[key.stringValue], value.value != .null else { return nil }
        return try NodeDecoder(node: value, codingPath: codingPath + [key]).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(node: node, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct SequenceContainer: UnkeyedDecodingContainer {
    let items: [YAMLNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [YAMLNode], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw failure(codingPath, items.last?.mark ?? .unknown, "sequence ended early")
        }
        defer { currentIndex += 1 }
        return NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].value == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}
