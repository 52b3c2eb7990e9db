import ReelYAML

/// One thing wrong with a resource: which field, where it stands, and why. Validation returns every problem
/// it finds, never only the first.
public struct FieldProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of problem, like Kubernetes' `field.ErrorType`.
    public enum Code: String, Sendable {
        case syntax, unknownField, required, type, notSupported, outOfRange, pattern, tooLong, tooShort
        case duplicate, invalid, forbidden
    }

    public var code: Code
    /// The field path, `spec.split.targetSeconds`; empty for a problem with the document as a whole.
    public var path: String
    /// Where the offending key or value stands (for a missing field: its parent).
    public var mark: YAMLMark
    /// What is wrong, in a sentence without the path.
    public var message: String

    /// A problem of `code` with the field at `path`.
    public init(_ code: Code, _ path: String, _ mark: YAMLMark, _ message: String) {
        self.code = code
        self.path = path
        self.mark = mark
        self.message = message
    }

    /// `LINE:COLUMN: PATH: message` (the path left out when empty).
    public var description: String {
        path.isEmpty ? "\(mark): \(message)" : "\(mark): \(path): \(message)"
    }

    /// The `FILE:LINE:COLUMN: PATH: message` line `reel validate` prints.
    public func formatted(file: String) -> String { "\(file):\(description)" }
}

extension FieldProblem {
    /// The problem for a YAML error (syntax, duplicate key, alias bomb…), at libyaml's position.
    public init(_ error: YAMLError) {
        self.init(.syntax, "", error.mark ?? YAMLMark(line: 1, column: 1), error.message)
    }
}

/// Appends path components the way Kubernetes writes them.
enum FieldPath {
    static func child(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
    static func index(_ path: String, _ index: Int) -> String { "\(path)[\(index)]" }
    static func key(_ path: String, _ key: String) -> String { "\(path)[\(key)]" }
}
