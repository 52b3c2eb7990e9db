import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// An element of the small XML documents S3 and STS answer with (errors, listings, upload ids): a name, its text,
/// and its children. Namespaces are ignored; S3 puts everything in one.
public struct S3XML: Sendable {
    public var name: String
    public var text: String
    public var children: [S3XML]

    /// The document's root element, or `nil` when `data` is not XML.
    public static func parse(_ data: Data) -> S3XML? {
        guard !data.isEmpty else { return nil }
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
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

    /// Builds the tree as the parser reports it.
    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [S3XML] = []
        var root: S3XML?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(S3XML(name: local, text: "", children: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            guard var element = stack.popLast() else { return }
            if !element.children.isEmpty { element.text = "" }
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }

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
