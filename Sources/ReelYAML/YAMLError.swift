/// An error reading or writing YAML: what went wrong, where, and for syntax errors libyaml's own words.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of YAML error.
    public enum Code: String, Sendable {
        /// libyaml could not scan or parse the text.
        case syntax
        /// The text is not valid UTF-8/UTF-16 as libyaml reads it.
        case encoding
        /// A mapping names the same key twice.
        case duplicateKey
        /// An alias names an anchor that was never defined.
        case undefinedAlias
        /// Aliases expand to more nodes than allowed ("billion laughs").
        case aliasExpansionLimit
        /// Nesting deeper than allowed.
        case depthLimit
        /// A sequence or mapping used as a mapping key.
        case complexKey
        /// A tag outside the core schema, or a scalar that its tag does not accept.
        case invalidTag
        /// An integer outside the 64-bit range.
        case integerOverflow
        /// A value the emitter cannot write (NaN/infinity for JSON, for instance), or an emitter failure.
        case emitter
    }

    /// The kind of error.
    public var code: Code
    /// A sentence saying what is wrong.
    public var message: String
    /// Where it is wrong, when known.
    public var mark: YAMLMark?
    /// A second place that matters (the first occurrence of a duplicate key).
    public var relatedMark: YAMLMark?

    /// An error of `code` at `mark`.
    public init(_ code: Code, _ message: String, at mark: YAMLMark? = nil, related: YAMLMark? = nil) {
        self.code = code
        self.message = message
        self.mark = mark
        self.relatedMark = related
    }

    public var description: String {
        if let mark { return "\(mark): \(message)" }
        return message
    }
}
