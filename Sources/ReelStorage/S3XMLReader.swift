/// Reads the XML of S3's and STS's answers into `S3XML`: elements (a prefix before `:` dropped), their text with
/// the predefined and numeric entities decoded, and CDATA; the declaration, comments, processing instructions,
/// a DOCTYPE without an internal subset and attributes are read past. Anything else that is not well-formed —
/// an unclosed or mismatched tag, a stray `<` or `&`, text or a second element after the root — makes `nil`.
struct S3XMLReader {
    private let bytes: [UInt8]
    private var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> S3XML? {
        guard skipMisc(), at < bytes.count, let root = element(), skipMisc(), at == bytes.count else { return nil }
        return root
    }

    /// Whitespace, comments, processing instructions and a DOCTYPE between elements; false on a malformed one.
    private mutating func skipMisc() -> Bool {
        while true {
            while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
            if starts("<?") {
                guard skip(past: "?>") else { return false }
            } else if starts("<!--") {
                guard skip(past: "-->") else { return false }
            } else if starts("<!DOCTYPE") {
                guard skip(past: ">") else { return false }
            } else {
                return true
            }
        }
    }

    /// The element starting at `<`, through its end tag.
    private mutating func element() -> S3XML? {
        guard starts("<"), let name = tagName() else { return nil }
        // Attributes are not needed: read past them, minding quotes.
        var quote: UInt8?
        while at < bytes.count {
            let byte = bytes[at]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "<") {
                break
            }
            at += 1
        }
        var element = S3XML(name: Self.local(name), text: "", children: [])
        if starts("/>") {
            at += 2
            return element
        }
        guard starts(">") else { return nil }
        at += 1
        var text: [UInt8] = []
        while at < bytes.count {
            if starts("</") {
                at += 2
                guard tagName() == name else { return nil }
                while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
                guard starts(">") else { return nil }
                at += 1
                element.text = element.children.isEmpty ? String(decoding: text, as: UTF8.self) : ""
                return element
            } else if starts("<![CDATA[") {
                let start = at + 9
                guard skip(past: "]]>") else { return nil }
                text += bytes[start..<(at - 3)]
            } else if starts("<!--") || starts("<?") {
                guard skip(past: starts("<!--") ? "-->" : "?>") else { return nil }
            } else if starts("<") {
                guard let child = self.element() else { return nil }
                element.children.append(child)
            } else if starts("&") {
                guard let decoded = entity() else { return nil }
                text += decoded
            } else {
                text.append(bytes[at])
                at += 1
            }
        }
        return nil
    }

    /// The name after `<` or `</` (`at` just past the bracket), or `nil` if there is none.
    private mutating func tagName() -> String? {
        if starts("<") { at += 1 }
        let start = at
        while at < bytes.count, !Self.isSpace(bytes[at]), !"/>".utf8.contains(bytes[at]) { at += 1 }
        return at > start ? String(decoding: bytes[start..<at], as: UTF8.self) : nil
    }

    /// The UTF-8 of the entity at `&`, `at` moved past its `;`.
    private mutating func entity() -> [UInt8]? {
        guard let end = bytes[at...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let name = String(decoding: bytes[(at + 1)..<end], as: UTF8.self)
        at = end + 1
        switch name {
        case "amp": return Array("&".utf8)
        case "lt": return Array("<".utf8)
        case "gt": return Array(">".utf8)
        case "quot": return Array("\"".utf8)
        case "apos": return Array("'".utf8)
        default:
            let code =
                name.hasPrefix("#x")
                ? UInt32(name.dropFirst(2), radix: 16)
                : name.hasPrefix("#") ? UInt32(name.dropFirst(), radix: 10) : nil
            guard let code, let scalar = Unicode.Scalar(code) else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
    }

    private func starts(_ text: String) -> Bool {
        let utf8 = text.utf8
        return bytes.count - at >= utf8.count && bytes[at..<(at + utf8.count)].elementsEqual(utf8)
    }

    /// Moves past the next `end`; false if there is none.
    private mutating func skip(past end: String) -> Bool {
        while at < bytes.count {
            if starts(end) {
                at += end.utf8.count
                return true
            }
            at += 1
        }
        return false
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private static func local(_ name: String) -> String {
        name.split(separator: ":").last.map(String.init) ?? name
    }
}
