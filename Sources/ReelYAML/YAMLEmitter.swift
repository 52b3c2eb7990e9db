import CYAML

/// Writes `YAMLNode` trees as block-style YAML with libyaml's emitter. Strings that would read back as something
/// else (`"true"`, `"0755"`, `""`) are quoted, so what is written parses back to the same tree.
public enum YAMLEmitter {
    /// Options for the text written.
    public struct Options: Sendable {
        /// Spaces per indentation level (2 to 9).
        public var indent: Int
        /// Preferred line width; longer plain scalars are folded at spaces (which reads back the same).
        public var width: Int

        /// Two-space indentation, 120 columns.
        public init(indent: Int = 2, width: Int = 120) {
            self.indent = indent
            self.width = width
        }
    }

    /// The YAML text of `documents`; the second and later are introduced by `---`.
    public static func emit(_ documents: [YAMLNode], options: Options = Options()) throws(YAMLError) -> String {
        let emitter = try Emitter(options: options)
        try emitter.emit { event in yaml_stream_start_event_initialize(event, YAML_UTF8_ENCODING) }
        for (index, document) in documents.enumerated() {
            try emitter.emit { event in yaml_document_start_event_initialize(event, nil, nil, nil, index == 0 ? 1 : 0) }
            try emitter.emitNode(document)
            try emitter.emit { event in yaml_document_end_event_initialize(event, 1) }
        }
        try emitter.emit { event in yaml_stream_end_event_initialize(event) }
        return emitter.output()
    }

    /// The YAML text of one document.
    public static func emit(_ document: YAMLNode, options: Options = Options()) throws(YAMLError) -> String {
        try emit([document], options: options)
    }
}

/// Owns one `yaml_emitter_t` and the buffer it writes into.
private final class Emitter {
    final class Sink {
        var bytes: [UInt8] = []
    }

    private let emitter: UnsafeMutablePointer<yaml_emitter_t> = .allocate(capacity: 1)
    private let sink = Sink()

    init(options: YAMLEmitter.Options) throws(YAMLError) {
        guard yaml_emitter_initialize(emitter) == 1 else {
            emitter.deallocate()
            throw YAMLError(.emitter, "libyaml could not allocate an emitter")
        }
        yaml_emitter_set_unicode(emitter, 1)
        yaml_emitter_set_indent(emitter, Int32(options.indent))
        yaml_emitter_set_width(emitter, Int32(options.width))
        yaml_emitter_set_break(emitter, YAML_LN_BREAK)
        // The sink outlives the emitter (both are owned by self), so the unretained pointer stays valid.
        yaml_emitter_set_output(
            emitter,
            { data, buffer, size in
                guard let data, let buffer else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, Unmanaged.passUnretained(sink).toOpaque())
    }

    deinit {
        yaml_emitter_delete(emitter)
        emitter.deallocate()
    }

    func output() -> String {
        yaml_emitter_flush(emitter)
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// Initializes an event with `make` and hands it to libyaml (which takes ownership of it).
    func emit(_ make: (UnsafeMutablePointer<yaml_event_t>) -> Int32) throws(YAMLError) {
        var event = yaml_event_t()
        guard make(&event) == 1 else { throw YAMLError(.emitter, "libyaml could not build an event") }
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "emitter error"
            throw YAMLError(.emitter, problem)
        }
    }

    func emitNode(_ node: YAMLNode, depth: Int = 0) throws(YAMLError) {
        guard depth < 512 else { throw YAMLError(.depthLimit, "nesting deeper than 512 levels") }
        switch node.value {
        case .null: try scalar("null", style: YAML_PLAIN_SCALAR_STYLE)
        case .bool(let b): try scalar(b ? "true" : "false", style: YAML_PLAIN_SCALAR_STYLE)
        case .int(let i): try scalar(String(i), style: YAML_PLAIN_SCALAR_STYLE)
        case .double(let d): try scalar(Self.format(d), style: YAML_PLAIN_SCALAR_STYLE)
        case .string(let s):
            let style: yaml_scalar_style_t
            if !CoreSchema.isPlainString(s) {
                style = YAML_DOUBLE_QUOTED_SCALAR_STYLE
            } else if s.contains("\n") {
                style = YAML_LITERAL_SCALAR_STYLE  // libyaml falls back to quoting when literal cannot hold it
            } else {
                style = YAML_ANY_SCALAR_STYLE
            }
            try scalar(s, style: style)
        case .sequence(let items):
            try emit { yaml_sequence_start_event_initialize($0, nil, nil, 1, YAML_BLOCK_SEQUENCE_STYLE) }
            for item in items { try emitNode(item, depth: depth + 1) }
            try emit { yaml_sequence_end_event_initialize($0) }
        case .mapping(let pairs):
            try emit { yaml_mapping_start_event_initialize($0, nil, nil, 1, YAML_BLOCK_MAPPING_STYLE) }
            for pair in pairs {
                guard pair.key.scalarText != nil || pair.key.value == .null else {
                    throw YAMLError(.complexKey, "a \(pair.key.value.kindName) cannot be a mapping key")
                }
                try emitNode(pair.key, depth: depth + 1)
                try emitNode(pair.value, depth: depth + 1)
            }
            try emit { yaml_mapping_end_event_initialize($0) }
        }
    }

    private func scalar(_ text: String, style: yaml_scalar_style_t) throws(YAMLError) {
        var bytes = Array(text.utf8) + [0]  // never empty, so the buffer always has an address
        let count = Int32(bytes.count - 1)
        try bytes.withUnsafeMutableBufferPointer { buffer throws(YAMLError) in
            // libyaml copies the value into the event, so the buffer need only live through this call.
            try emit { yaml_scalar_event_initialize($0, nil, nil, buffer.baseAddress, count, 1, 1, style) }
        }
    }

    /// A double as the core schema reads it back: `.inf`, `-.inf`, `.nan`, or Swift's shortest round-trip form
    /// (which always has a `.` or an exponent, so it never reads back as an integer).
    static func format(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        return d.description
    }
}
