import CYAML

/// Reads YAML streams with libyaml's event parser into `YAMLNode` trees: one node per document, every node with
/// its line and column, scalars resolved by the YAML 1.2 core schema, anchors and aliases expanded within a bound,
/// duplicate keys refused.
public enum YAMLParser {
    /// Bounds that keep a hostile document from exhausting memory or stack.
    public struct Limits: Sendable {
        /// How many nodes aliases may add in one stream, counting each alias as the full size of what it names.
        /// A "billion laughs" document passes this within a few lines and is refused.
        public var maxAliasExpandedNodes: Int
        /// How deep sequences and mappings may nest.
        public var maxDepth: Int

        /// Bounds with room for any real manifest: a million alias-expanded nodes, nesting 256 deep.
        public init(maxAliasExpandedNodes: Int = 1_000_000, maxDepth: Int = 256) {
            self.maxAliasExpandedNodes = maxAliasExpandedNodes
            self.maxDepth = maxDepth
        }
    }

    /// The documents of a YAML stream. An empty document (`---` alone) is a `.null` node; a stream with no
    /// documents gives an empty array.
    public static func parse(_ text: String, limits: Limits = Limits()) throws(YAMLError) -> [YAMLNode] {
        try parse(bytes: Array(text.utf8), limits: limits)
    }

    /// The documents of a YAML stream given as bytes (UTF-8, or UTF-16 with a byte-order mark).
    public static func parse(bytes: [UInt8], limits: Limits = Limits()) throws(YAMLError) -> [YAMLNode] {
        let events = try EventReader(bytes: bytes)
        var builder = TreeBuilder(limits: limits)
        while true {
            let event = try events.next()
            defer { event.delete() }
            if try builder.consume(event.pointer.pointee) { break }
        }
        return builder.documents
    }

    /// libyaml's version, e.g. "0.2.5".
    public static var libraryVersion: String { String(cString: yaml_get_version_string()) }
}

/// Owns one `yaml_parser_t` and the bytes it reads; frees both in `deinit`.
private final class EventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>

    init(bytes: [UInt8]) throws(YAMLError) {
        parser = .allocate(capacity: 1)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            input.deallocate()
            throw YAMLError(.syntax, "libyaml could not allocate a parser")
        }
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The character at `mark` in the input (UTF-8 input only; `nil` past the end).
    private func character(at mark: YAMLMark) -> Character? {
        var line = 1
        var start = 0
        while line < mark.line, start < input.count {
            if input[start] == UInt8(ascii: "\n") { line += 1 }
            start += 1
        }
        let text = String(
            decoding: UnsafeBufferPointer(rebasing: input[start...]).prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let offset = mark.column - 1
        guard offset >= 0, offset < text.count else { return nil }
        return text[text.index(text.startIndex, offsetBy: offset)]
    }

    /// The next event; the caller deletes it.
    func next() throws(YAMLError) -> Event {
        let event = Event()
        guard yaml_parser_parse(parser, event.pointer) == 1 else {
            event.pointer.deallocate()
            throw currentError()
        }
        return event
    }

    private func currentError() -> YAMLError {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        switch p.error {
        case YAML_READER_ERROR:
            return YAMLError(.encoding, "\(problem) at byte \(p.problem_offset)", at: p.mark.reelMark)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            var message = problem
            if let context = p.context.map({ String(cString: $0) }) {
                message += " (\(context) at \(p.context_mark.reelMark))"
            }
            if !problem.contains("tab"), character(at: p.problem_mark.reelMark) == "\t" {
                message += "; a tab: YAML indents with spaces only"
            }
            return YAMLError(.syntax, message, at: p.problem_mark.reelMark)
        default:
            return YAMLError(.syntax, problem, at: p.mark.reelMark)
        }
    }
}

/// One libyaml event, heap-allocated so its address is stable.
private struct Event {
    let pointer: UnsafeMutablePointer<yaml_event_t> = .allocate(capacity: 1)
    func delete() {
        yaml_event_delete(pointer)
        pointer.deallocate()
    }
}

extension yaml_mark_t {
    var reelMark: YAMLMark { YAMLMark(line: Int(line) + 1, column: Int(column) + 1) }
}

/// Turns events into trees with an explicit stack (no recursion, so depth is bounded by `Limits` alone).
private struct TreeBuilder {
    enum ScalarKey: Hashable {
        case null, bool(Bool), int(Int), double(UInt64), string(String)
    }

    enum Container {
        case sequence([YAMLNode])
        case mapping([YAMLPair], pendingKey: YAMLNode?, seen: [ScalarKey: YAMLMark])
    }

    struct Frame {
        var mark: YAMLMark
        var anchor: String?
        var container: Container
        var size = 1
    }

    let limits: Limits
    var documents: [YAMLNode] = []
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var aliasExpandedNodes = 0

    typealias Limits = YAMLParser.Limits

    init(limits: Limits) { self.limits = limits }

    /// Consumes one event; `true` at the end of the stream.
    mutating func consume(_ event: yaml_event_t) throws(YAMLError) -> Bool {
        let mark = event.start_mark.reelMark
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            anchors.removeAll()
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
            let tag = s.tag.map { String(cString: $0) }
            let value: YAMLValue
            do {
                if let tag {
                    value = try CoreSchema.resolveTagged(text, tag: tag)
                } else if s.style == YAML_PLAIN_SCALAR_STYLE {
                    value = try CoreSchema.resolvePlain(text)
                } else {
                    value = .string(text)
                }
            } catch {
                throw YAMLError(error.code, error.message, at: mark)
            }
            try finish(YAMLNode(value, mark: mark), size: 1, anchor: s.anchor.map { String(cString: $0) })
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else {
                throw YAMLError(.undefinedAlias, "alias *\(name) names no anchor defined before it", at: mark)
            }
            let (sum, overflow) = aliasExpandedNodes.addingReportingOverflow(target.size)
            aliasExpandedNodes = overflow ? Int.max : sum
            guard aliasExpandedNodes <= limits.maxAliasExpandedNodes else {
                throw YAMLError(
                    .aliasExpansionLimit,
                    "aliases expand to more than \(limits.maxAliasExpandedNodes) nodes "
                        + "(a \"billion laughs\" document?)",
                    at: mark)
            }
            try finish(YAMLNode(target.node.value, mark: mark), size: target.size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            try checkCollectionTag(s.tag, expected: CoreSchema.seqTag, at: mark)
            try push(Frame(mark: mark, anchor: s.anchor.map { String(cString: $0) }, container: .sequence([])))
        case YAML_MAPPING_START_EVENT:
            let m = event.data.mapping_start
            try checkCollectionTag(m.tag, expected: CoreSchema.mapTag, at: mark)
            try push(
                Frame(
                    mark: mark, anchor: m.anchor.map { String(cString: $0) },
                    container: .mapping([], pendingKey: nil, seen: [:])))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = stack.removeLast()
            let value: YAMLValue
            switch frame.container {
            case .sequence(let items): value = .sequence(items)
            case .mapping(let pairs, _, _): value = .mapping(pairs)
            }
            try finish(YAMLNode(value, mark: frame.mark), size: frame.size, anchor: frame.anchor)
        default:
            break  // stream start, document end: nothing to build
        }
        return false
    }

    private mutating func push(_ frame: Frame) throws(YAMLError) {
        guard stack.count < limits.maxDepth else {
            throw YAMLError(.depthLimit, "nesting deeper than \(limits.maxDepth) levels", at: frame.mark)
        }
        stack.append(frame)
    }

    private func checkCollectionTag(
        _ tag: UnsafeMutablePointer<yaml_char_t>?, expected: String, at mark: YAMLMark
    ) throws(YAMLError) {
        guard let tag else { return }
        let name = String(cString: tag)
        guard name == expected || name == "!" else {
            throw YAMLError(.invalidTag, "unsupported tag \(name); Reel reads the YAML 1.2 core schema only", at: mark)
        }
    }

    /// Hands a finished node to its parent (or makes it a document).
    private mutating func finish(_ node: YAMLNode, size: Int, anchor: String?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, size) }
        guard var parent = stack.popLast() else {
            documents.append(node)
            return
        }
        let (sum, overflow) = parent.size.addingReportingOverflow(size)
        parent.size = overflow ? Int.max : sum
        switch parent.container {
        case .sequence(var items):
            parent.container = .sequence([])  // keep `items` uniquely referenced while appending
            items.append(node)
            parent.container = .sequence(items)
        case .mapping(var pairs, let pendingKey, var seen):
            parent.container = .sequence([])
            if let key = pendingKey {
                pairs.append(YAMLPair(key: key, value: node))
                parent.container = .mapping(pairs, pendingKey: nil, seen: seen)
            } else {
                let identity = try Self.keyIdentity(node)
                if let first = seen[identity] {
                    throw YAMLError(
                        .duplicateKey,
                        "duplicate key \(node.value) (first at line \(first.line), column \(first.column))",
                        at: node.mark, related: first)
                }
                seen[identity] = node.mark
                parent.container = .mapping(pairs, pendingKey: node, seen: seen)
            }
        }
        stack.append(parent)
    }

    private static func keyIdentity(_ key: YAMLNode) throws(YAMLError) -> ScalarKey {
        switch key.value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d.bitPattern)
        case .string(let s): return .string(s)
        case .sequence, .mapping:
            throw YAMLError(.complexKey, "a \(key.value.kindName) cannot be a mapping key", at: key.mark)
        }
    }
}
