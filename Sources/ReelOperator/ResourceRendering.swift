import FoundationEssentials
import ReelAPI
import ReelYAML

/// Resources as people read them: YAML (keys in Kubernetes' order at the top, sorted below) and JSON.
public enum ResourceRendering {
    static let topOrder = ["apiVersion", "kind", "metadata", "spec", "status", "items"]

    /// `value` as a YAML document.
    public static func yaml(_ value: some Encodable) throws -> String {
        let tree = try JSONDecoder().decode(JSONValue.self, from: try json(value, pretty: false))
        return try YAMLEmitter.emit(node(tree, top: true))
    }

    /// `value` as JSON (sorted keys, pretty when asked).
    public static func json(_ value: some Encodable, pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func node(_ value: JSONValue, top: Bool = false) -> YAMLNode {
        switch value {
        case .object(let dictionary):
            let keys = dictionary.keys.sorted { a, b in
                guard top else { return a < b }
                let ia = topOrder.firstIndex(of: a) ?? Int.max, ib = topOrder.firstIndex(of: b) ?? Int.max
                return ia != ib ? ia < ib : a < b
            }
            return YAMLNode(.mapping(keys.map { YAMLPair(key: YAMLNode(.string($0)), value: node(dictionary[$0]!)) }))
        case .array(let array): return YAMLNode(.sequence(array.map { node($0) }))
        case .bool(let bool): return YAMLNode(.bool(bool))
        case .int(let int): return YAMLNode(.int(int))
        case .double(let double): return YAMLNode(.double(double))
        case .string(let string): return YAMLNode(.string(string))
        case .null: return YAMLNode(.null)
        }
    }
}
