import FoundationEssentials

/// What a source or output URI must look like beyond its scheme.
enum URIRules {
    static func sourceProblems(_ uri: String) -> [String] {
        guard let (scheme, rest) = split(uri) else { return [] }  // the schema's pattern reports it
        if let problem = commonProblem(uri) { return [problem] }
        switch scheme {
        case "file":
            if let problem = filePathProblem(rest) { return [problem] }
            if rest.hasSuffix("/") { return ["must name a file, not a directory"] }
        case "s3":
            return s3Problems(rest, needsKey: true)
        case "http", "https":
            guard let components = URLComponents(string: uri), let host = components.host, !host.isEmpty else {
                return ["must be an absolute \(scheme) URL with a host"]
            }
            if components.password != nil { return ["must not carry a password; use a Secret"] }
        case "upload":
            if !Patterns.matches(rest, "^[A-Za-z0-9_-]{1,128}$") {
                return ["upload id must be 1 to 128 letters, digits, '-' or '_'"]
            }
        default:
            break
        }
        return []
    }

    static func outputProblems(_ uri: String) -> [String] {
        guard let (scheme, rest) = split(uri) else { return [] }
        if let problem = commonProblem(uri) { return [problem] }
        switch scheme {
        case "file": return filePathProblem(rest).map { [$0] } ?? []
        case "s3": return s3Problems(rest, needsKey: false)
        default: return []
        }
    }

    private static func split(_ uri: String) -> (String, String)? {
        guard let range = uri.firstRange(of: "://") else { return nil }
        return (String(uri[..<range.lowerBound]), String(uri[range.upperBound...]))
    }

    private static func commonProblem(_ uri: String) -> String? {
        if uri.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }) {
            return "must not contain spaces or control characters (percent-encode them)"
        }
        return nil
    }

    private static func filePathProblem(_ rest: String) -> String? {
        let path = rest.hasPrefix("localhost/") ? String(rest.dropFirst("localhost".count)) : rest
        if path.hasPrefix("/") {
            return path == "/" ? "must name a path below /" : nil
        }
        if path.hasPrefix("./") || path.hasPrefix("../") { return nil }
        return "must be file:///absolute/path or file://./relative/path (relative to the declaring file)"
    }

    private static func s3Problems(_ rest: String, needsKey: Bool) -> [String] {
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts.first ?? "")
        var problems: [String] = []
        if !Patterns.matches(bucket, "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$") {
            problems.append("bucket must be 3 to 63 lower-case letters, digits, '.' or '-'")
        }
        if needsKey, parts.count < 2 || parts[1].isEmpty || parts[1].hasSuffix("/") {
            problems.append("must name an object: s3://bucket/key")
        }
        return problems
    }
}
