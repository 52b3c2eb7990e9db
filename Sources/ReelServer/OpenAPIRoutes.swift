/// The document's paths as a route table: which methods a path allows (for `405 Method Not Allowed` and `Allow`).
extension OpenAPIDocument {
    /// The methods the document declares for `path` (`nil`: no such path), for 405 answers.
    static func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (template, operations) in routes {
            let parts = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            let matches: Bool
            if parts.last == "{key}" {  // the rest of the path, slashes and all
                matches =
                    segments.count >= parts.count
                    && zip(parts.dropLast(), segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
            } else {
                matches =
                    parts.count == segments.count
                    && zip(parts, segments).allSatisfy { ($0.hasPrefix("{") && !$1.isEmpty) || $0 == $1 }
            }
            if matches { return operations }
        }
        return nil
    }

    /// Each path template with its methods, the most specific (most literal segments) first, as the router
    /// prefers `/api/jobs/{job}/logs` to `/api/jobs/{namespace}/{name}`.
    static let routes: [(String, [String])] = paths.map { path, item in
        guard case .object(let fields) = item else { return (path, []) }
        return (path, fields.keys.filter { $0 != "parameters" }.map { $0.uppercased() }.sorted())
    }.sorted { literals($0.0) > literals($1.0) || (literals($0.0) == literals($1.0) && $0.0 < $1.0) }

    static func literals(_ template: String) -> Int {
        template.split(separator: "/").filter { !$0.hasPrefix("{") }.count
    }
}
