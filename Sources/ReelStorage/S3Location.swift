import FoundationEssentials
import ReelSupport

/// Where an S3 store lives, from `s3://BUCKET/PREFIX?region=R&endpoint=URL&pathStyle=true`.
/// Without `endpoint` it is AWS (`https://s3.REGION.amazonaws.com`, virtual-hosted addressing); with one
/// (MinIO, Ceph RGW, R2, GCS, moto) addressing is path-style unless `pathStyle=false`.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Key prefix of every object, empty or ending in `/`.
    public var prefix: String
    public var region: String
    /// `scheme://host[:port]`, no trailing slash.
    public var endpoint: String
    public var pathStyle: Bool

    public init(bucket: String, prefix: String = "", region: String, endpoint: String? = nil, pathStyle: Bool? = nil) {
        self.bucket = bucket
        var prefix = prefix
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        self.prefix = prefix
        self.region = region
        var endpoint = endpoint ?? "https://s3.\(region).amazonaws.com"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.pathStyle = pathStyle ?? (endpoint.hasSuffix(".amazonaws.com") ? false : true)
    }

    /// Parses an `s3://` storage URL; the region falls back to `AWS_REGION`, `AWS_DEFAULT_REGION`, `us-east-1`.
    public static func parse(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(StorageError) -> S3Location
    {
        guard url.hasPrefix("s3://"), let components = URLComponents(string: url), let bucket = components.host,
            !bucket.isEmpty
        else {
            throw StorageError(.unsupported, "an S3 URL is s3://BUCKET[/PREFIX][?region=…&endpoint=…]", key: url)
        }
        guard Self.isBucketName(bucket) else {
            throw StorageError(.unsupported, "\"\(bucket)\" is not an S3 bucket name", key: url)
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set = ["region", "endpoint", "pathStyle"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw StorageError(
                .unsupported, "unknown S3 URL parameter \"\(unknown)\" (region, endpoint, pathStyle)", key: url)
        }
        var pathStyle: Bool?
        if let value = query["pathStyle"] {
            guard let flag = Bool(value) else {
                throw StorageError(.unsupported, "pathStyle must be true or false, not \"\(value)\"", key: url)
            }
            pathStyle = flag
        }
        if let endpoint = query["endpoint"] {
            guard let parsed = URLComponents(string: endpoint), ["http", "https"].contains(parsed.scheme ?? ""),
                parsed.host?.isEmpty == false
            else {
                throw StorageError(.unsupported, "endpoint must be an http(s):// URL, not \"\(endpoint)\"", key: url)
            }
        }
        let region =
            query["region"] ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        return S3Location(
            bucket: bucket, prefix: PercentEncoding.decode(components.percentEncodedPath) ?? components.path,
            region: region, endpoint: query["endpoint"], pathStyle: pathStyle)
    }

    /// DNS-compatible bucket names (3–63 of a-z, 0-9, `.`, `-`, starting and ending with a letter or digit).
    static func isBucketName(_ name: String) -> Bool {
        guard (3...63).contains(name.count), let first = name.first, let last = name.last,
            first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return name.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
    }

    /// The URL of the bucket's root (`…/` with a trailing slash).
    public var bucketURL: String {
        guard !pathStyle, let range = endpoint.firstRange(of: "://") else { return "\(endpoint)/\(bucket)/" }
        return "\(endpoint[..<range.upperBound])\(bucket).\(endpoint[range.upperBound...])/"
    }

    /// The URL of an object (`objectKey` is the full key, prefix included), without a query.
    public func url(objectKey: String) -> String { bucketURL + Self.encodePath(objectKey) }

    /// `s3://bucket/key`.
    public func uri(objectKey: String) -> String { "s3://\(bucket)/\(objectKey)" }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, every other byte is `%XX` (upper case);
    /// in paths `/` stays too.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        PercentEncoding.encode(text, allowing: keepSlash ? "/" : "")
    }

    static func encodePath(_ key: String) -> String { encode(key, keepSlash: true) }

    /// A query string in canonical order (sorted by name, then value), each part encoded: what SigV4 signs, so
    /// that the signature libcurl computes over the query as sent is the one the server computes.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { (encode($0.0), encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}
