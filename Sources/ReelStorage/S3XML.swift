import FoundationEssentials

/// An element of the small XML documents S3 and STS answer with (errors, listings, upload ids): a name, its text,
/// and its children. Namespaces are ignored; S3 puts everything in one.
public struct S3XML: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [S3XML]

    /// The document's root element, or `nil` when `data` is not well-formed XML (`S3XMLReader`).
    public static func parse(_ data: Data) -> S3XML? {
        var reader = S3XMLReader(Array(data))
        return reader.document()
    }

    /// The first element named `name` at any depth (itself included).
    public func first(_ name: String) -> S3XML? {
        if self.name == name { return self }
        for child in children { if let found = child.first(name) { return found } }
        return nil
    }

    /// Direct children named `name`.
    public func all(_ name: String) -> [S3XML] { children.filter { $0.name == name } }

    /// The text of the first direct child named `name`.
    public func text(_ name: String) -> String? { children.first { $0.name == name }?.text }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, for request bodies.
    public static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
