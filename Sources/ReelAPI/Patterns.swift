import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The regular expressions Reel's schemas use, and the name rules Kubernetes applies to metadata.
///
/// Patterns are kept to the syntax RE2 (the API server), ECMA-262/Python (`jsonschema`) and Swift all read
/// the same way: anchored, no lookaround, no backreferences.
public enum Patterns {
    /// A DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, at most 63.
    public static let dns1123Label = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    /// A DNS-1123 subdomain: labels joined by '.', at most 253.
    public static let dns1123Subdomain = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    /// The name part of a qualified name (label keys, finalizers) or a label value.
    public static let qualifiedNamePart = "^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
    /// A lower-case hex SHA-256 digest.
    public static let sha256 = "^[0-9a-f]{64}$"
    /// Source URIs Reel can ingest.
    public static let sourceURI = "^(file|s3|https?|upload)://.+$"
    /// Where outputs may be written.
    public static let outputURI = "^(file|s3)://.+$"
    /// A condition reason: CamelCase (metav1.Condition).
    public static let conditionReason = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    /// A condition type (metav1.Condition): an optional DNS-1123 subdomain prefix and a name.
    public static let conditionType =
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        + "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"

    /// Whether all of `text` matches `pattern`.
    public static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let regex = compiled(pattern) else { return false }
        return text.wholeMatch(of: regex) != nil
    }

    /// Each pattern compiled once (validation runs them for every field of every document); `nil` for a pattern
    /// Swift cannot compile, which then matches nothing.
    private static func compiled(_ pattern: String) -> Regex<AnyRegexOutput>? { cache.regex(pattern) }

    private static let cache = RegexCache()

    /// Problems with `name` as a DNS-1123 subdomain (empty when it is one).
    public static func dns1123SubdomainProblems(_ name: String) -> [String] {
        var out: [String] = []
        if name.count > 253 { out.append("must be at most 253 characters") }
        if !matches(name, dns1123Subdomain) {
            out.append(
                "must be a lower-case DNS-1123 subdomain: letters, digits, '-' and '.', starting and ending "
                    + "with a letter or digit"
            )
        }
        return out
    }

    /// Problems with `name` as a DNS-1123 label of at most `maxLength` characters.
    public static func dns1123LabelProblems(_ name: String, maxLength: Int = 63) -> [String] {
        var out: [String] = []
        if name.count > maxLength { out.append("must be at most \(maxLength) characters") }
        if !matches(name, dns1123Label) {
            out.append(
                "must be a lower-case DNS-1123 label: letters, digits and '-', starting and ending with a "
                    + "letter or digit"
            )
        }
        return out
    }

    /// Problems with a qualified name (`[prefix/]name`), as label and annotation keys and finalizers must be.
    public static func qualifiedNameProblems(_ key: String) -> [String] {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return ["must be a qualified name: at most one '/'"] }
        var out: [String] = []
        if parts.count == 2 {
            let prefix = String(parts[0])
            if prefix.isEmpty {
                out.append("prefix before '/' must not be empty")
            } else {
                out += dns1123SubdomainProblems(prefix).map { "prefix \($0)" }
            }
        }
        let name = String(parts.last ?? "")
        if name.isEmpty {
            out.append("name part must not be empty")
        } else {
            if name.count > 63 { out.append("name part must be at most 63 characters") }
            if !matches(name, qualifiedNamePart) {
                out.append("name part must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric")
            }
        }
        return out
    }

    /// Problems with a label value (may be empty).
    public static func labelValueProblems(_ value: String) -> [String] {
        guard !value.isEmpty else { return [] }
        var out: [String] = []
        if value.count > 63 { out.append("must be at most 63 characters") }
        if !matches(value, qualifiedNamePart) {
            out.append("must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric")
        }
        return out
    }
}

/// Compiled patterns by their text. `Regex` is not `Sendable` (its output types need not be); a compiled
/// `Regex<AnyRegexOutput>` is immutable, so sharing it for matching under this lock is safe.
private final class RegexCache: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var compiled: [String: Regex<AnyRegexOutput>?] = [:]

    init() { pthread_mutex_init(lock, nil) }

    func regex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let known = compiled[pattern] { return known }
        let regex = try? Regex(pattern)
        compiled[pattern] = regex
        return regex
    }
}
