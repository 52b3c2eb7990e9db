import ReelYAML

/// Checks a document against a `Schema` the way a strict Kubernetes API server would (unknown fields refused,
/// as with `kubectl --validate=strict`), collecting every problem with its position.
///
/// Null values count as absent, as Kubernetes prunes them before defaulting.
public struct SchemaValidator {
    private var problems: [FieldProblem] = []

    /// Every problem of `node` against `schema`, in document order.
    public static func validate(_ node: YAMLNode, against schema: Schema, path: String = "") -> [FieldProblem] {
        var validator = SchemaValidator()
        validator.check(node, schema, path)
        return validator.problems
    }

    private mutating func report(_ code: FieldProblem.Code, _ path: String, _ mark: YAMLMark, _ message: String) {
        problems.append(FieldProblem(code, path, mark, message))
    }

    private mutating func check(_ node: YAMLNode, _ schema: Schema, _ path: String) {
        switch schema.kind {
        case .any:
            return
        case .metadata:
            guard node.pairs != nil else { return typeMismatch(node, "an object", path) }
        case .string:
            guard case .string(let s) = node.value else { return typeMismatch(node, "a string", path) }
            checkString(s, node, schema, path)
        case .integer:
            guard case .int(let i) = node.value else { return typeMismatch(node, "an integer", path) }
            checkRange(Double(i), node, schema, path)
        case .number:
            let d: Double
            switch node.value {
            case .int(let i): d = Double(i)
            case .double(let x) where x.isFinite: d = x
            case .double: return report(.type, path, node.mark, "must be a finite number")
            default: return typeMismatch(node, "a number", path)
            }
            checkRange(d, node, schema, path)
        case .boolean:
            guard case .bool = node.value else { return typeMismatch(node, "a boolean", path) }
        case .object(let properties):
            guard let pairs = node.pairs else { return typeMismatch(node, "an object", path) }
            checkObject(node, pairs, properties, schema.required, path)
        case .map(let valueSchema):
            guard let pairs = node.pairs else { return typeMismatch(node, "an object", path) }
            for pair in pairs {
                guard let key = pair.key.string else {
                    report(.type, path, pair.key.mark, "keys must be strings, found \(pair.key.value.kindName)")
                    continue
                }
                if pair.value.value != .null { check(pair.value, valueSchema, FieldPath.key(path, key)) }
            }
        case .array(let itemSchema):
            guard let items = node.items else { return typeMismatch(node, "a list", path) }
            checkArray(node, items, itemSchema, schema, path)
        }
    }

    private mutating func typeMismatch(_ node: YAMLNode, _ expected: String, _ path: String) {
        report(.type, path, node.mark, "must be \(expected), not \(article(node.value.kindName))")
    }

    private func article(_ kind: String) -> String {
        switch kind {
        case "null": "null"
        case "integer", "object": "an \(kind)"
        default: "a \(kind)"
        }
    }

    private mutating func checkString(_ s: String, _ node: YAMLNode, _ schema: Schema, _ path: String) {
        if !schema.enumValues.isEmpty, !schema.enumValues.contains(s) {
            let allowed = schema.enumValues.joined(separator: ", ")
            return report(.notSupported, path, node.mark, "unsupported value \"\(s)\": must be one of \(allowed)")
        }
        let length = s.count
        if let min = schema.minLength, length < min {
            report(.tooShort, path, node.mark, min == 1 ? "must not be empty" : "must be at least \(min) characters")
        }
        if let max = schema.maxLength, length > max {
            report(.tooLong, path, node.mark, "must be at most \(max) characters (is \(length))")
        }
        if let pattern = schema.pattern, !Patterns.matches(s, pattern) {
            report(.pattern, path, node.mark, schema.patternHint ?? "must match \(pattern)")
        }
        if schema.format == "date-time", Timestamp(rfc3339: s) == nil {
            report(.invalid, path, node.mark, "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z")
        }
    }

    private mutating func checkRange(_ value: Double, _ node: YAMLNode, _ schema: Schema, _ path: String) {
        if let min = schema.minimum, value < min {
            report(.outOfRange, path, node.mark, "must be at least \(Self.number(min)) (is \(node.value))")
        }
        if let max = schema.maximum, value > max {
            report(.outOfRange, path, node.mark, "must be at most \(Self.number(max)) (is \(node.value))")
        }
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }

    private mutating func checkObject(
        _ node: YAMLNode, _ pairs: [YAMLPair], _ properties: [Schema.Property], _ required: [String], _ path: String
    ) {
        var present: Set<String> = []
        for pair in pairs {
            guard let key = pair.key.string else {
                report(.type, path, pair.key.mark, "field names must be strings, found \(pair.key.value.kindName)")
                continue
            }
            let fieldPath = FieldPath.child(path, key)
            guard let property = properties.first(where: { $0.name == key }) else {
                var message = "unknown field \"\(key)\""
                if let guess = Suggestion.closest(to: key, among: properties.map(\.name)) {
                    message += " (did you mean \"\(guess)\"?)"
                }
                report(.unknownField, fieldPath, pair.key.mark, message)
                continue
            }
            guard pair.value.value != .null else { continue }
            present.insert(key)
            check(pair.value, property.schema, fieldPath)
        }
        for name in required where !present.contains(name) {
            report(.required, FieldPath.child(path, name), node.mark, "required field is missing")
        }
    }

    private mutating func checkArray(
        _ node: YAMLNode, _ items: [YAMLNode], _ itemSchema: Schema, _ schema: Schema, _ path: String
    ) {
        if let min = schema.minItems, items.count < min {
            report(.tooShort, path, node.mark, min == 1 ? "must not be empty" : "must have at least \(min) items")
        }
        if let max = schema.maxItems, items.count > max {
            report(.tooLong, path, node.mark, "must have at most \(max) items (has \(items.count))")
        }
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = FieldPath.index(path, index)
            check(item, itemSchema, itemPath)
            let identity: String?
            switch schema.listType {
            case "set": identity = item.scalarText
            case "map": identity = schema.listMapKeys.map { item[$0]?.scalarText ?? "" }.joined(separator: "\u{0}")
            default: identity = nil
            }
            guard let identity else { continue }
            if let first = seen[identity] {
                let what = schema.listType == "map" ? schema.listMapKeys.joined(separator: ", ") : "value"
                report(.duplicate, itemPath, item.mark, "duplicate \(what) (also at \(FieldPath.index(path, first)))")
            } else {
                seen[identity] = index
            }
        }
    }
}

/// Suggests the known name a misspelt one was probably meant to be.
enum Suggestion {
    static func closest(to name: String, among candidates: [String]) -> String? {
        let lowered = name.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= max(1, candidate.count / 3), distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent transpositions
    /// ("nmae" is one step from "name").
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
