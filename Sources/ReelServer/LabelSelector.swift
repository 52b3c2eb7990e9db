/// A Kubernetes label selector in its text form: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`,
/// comma-separated, all of which must hold.
struct LabelSelector: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
        case absent(String)
        case within(String, Set<String>)
        case notWithin(String, Set<String>)
    }

    var requirements: [Requirement] = []

    /// Parses `text`; throws a 400 naming the requirement it cannot read.
    init(_ text: String) throws {
        for term in Self.terms(text) {
            let term = term.trimmingCharacters(in: .whitespaces)
            guard !term.isEmpty else { continue }
            requirements.append(try Self.requirement(term))
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .exists(let key): labels[key] != nil
            case .absent(let key): labels[key] == nil
            case .within(let key, let values): labels[key].map(values.contains) ?? false
            case .notWithin(let key, let values): !(labels[key].map(values.contains) ?? false)
            }
        }
    }

    /// Splits on commas outside parentheses.
    static func terms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                terms.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        terms.append(current)
        return terms
    }

    static func requirement(_ term: String) throws -> Requirement {
        func bad() -> APIFailure { APIFailure.badRequest("labelSelector: cannot read \"\(term)\"") }
        func key(_ text: some StringProtocol) throws -> String {
            let key = text.trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !key.contains(" ") else { throw bad() }
            return key
        }
        for (word, negated) in [(" notin ", true), (" in ", false)] {
            if let range = term.range(of: word) {
                let list = term[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("("), list.hasSuffix(")") else { throw bad() }
                let values = Set(
                    list.dropFirst().dropLast().split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    })
                let name = try key(term[..<range.lowerBound])
                return negated ? .notWithin(name, values) : .within(name, values)
            }
        }
        for (operator_, make) in [("!=", Requirement.notEquals), ("==", Requirement.equals), ("=", Requirement.equals)]
        {
            if let range = term.range(of: operator_) {
                return make(
                    try key(term[..<range.lowerBound]), term[range.upperBound...].trimmingCharacters(in: .whitespaces))
            }
        }
        if term.hasPrefix("!") { return .absent(try key(term.dropFirst())) }
        return .exists(try key(term))
    }
}
