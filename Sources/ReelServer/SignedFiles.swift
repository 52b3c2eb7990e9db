import Crypto
import Foundation
import Hummingbird
import ReelStorage
import ReelSupport

/// Expiring links to stored objects. With a filesystem store: `/files/{key}?expires=…&signature=…`, the signature
/// an HMAC-SHA256 over method, key and expiry under the server's signing key, checked in constant time. With S3:
/// presigned S3 URLs, so the bytes never pass through Reel.
public struct SignedFiles: Sendable {
    let store: any ObjectStore
    let key: SymmetricKey
    /// The URL prefix links start with (`http://host:port`); `nil`: made from each request's `Host`.
    let publicURL: String?

    public init(store: any ObjectStore, signingKey: [UInt8], publicURL: String?) {
        self.store = store
        self.key = SymmetricKey(data: signingKey)
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// A link to `key` valid until `expires`, for a client that reached this server at `base`.
    func url(for objectKey: String, expires: Date, base: String) async throws -> String {
        if let s3 = store as? S3Store {
            return try await s3.presignedGET(objectKey, expires: .seconds(max(1, expires.timeIntervalSinceNow)))
        }
        let stamp = Int(expires.timeIntervalSince1970)
        let path = objectKey.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? objectKey
        return "\(publicURL ?? base)/files/\(path)?expires=\(stamp)&signature=\(signature(objectKey, stamp))"
    }

    /// The store key an output URI names, or `nil` when it lies outside the store.
    func key(of uri: String) -> String? {
        let base = store.baseURI.hasSuffix("/") || store.baseURI.hasSuffix("=") ? store.baseURI : store.baseURI + "/"
        guard uri.hasPrefix(base), uri.count > base.count else { return nil }
        return String(uri.dropFirst(base.count))
    }

    func signature(_ objectKey: String, _ expires: Int) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("GET\n\(objectKey)\n\(expires)".utf8), using: key)
        return Base64URL.encode(Data(code))
    }

    /// Whether `signature` is this server's for `objectKey` until `expires` (and `expires` has not passed).
    func verify(_ objectKey: String, expires: Int, signature: String, now: Date = Date()) -> Bool {
        guard expires >= Int(now.timeIntervalSince1970), let given = Base64URL.decode(signature) else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(
            given, authenticating: Data("GET\n\(objectKey)\n\(expires)".utf8), using: key)
    }

    static let pathCharacters: CharacterSet = {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#;%")
        return allowed
    }()

    /// Reads the signing key at `path`, creating a random one (mode 0600) when there is none.
    public static func signingKey(at path: String, create: Bool) throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count >= 32 else {
                throw SigningKeyError(description: "\(path) holds \(data.count) bytes; a signing key needs at least 32")
            }
            return Array(data)
        }
        guard create else { throw SigningKeyError(description: "no signing key at \(path)") }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        guard
            FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        else { throw SigningKeyError(description: "cannot write a signing key to \(path)") }
        return bytes
    }
}

public struct SigningKeyError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// `GET`/`HEAD /files/{key}`: a signed link's bytes, with `Range` (one range; a browser seeking in a render),
/// `Content-Type` by extension, `Content-Length`, `ETag` and `Last-Modified`.
extension APIHandlers {
    func registerFiles(_ router: Router<APIContext>) {
        router.get("files/**") { request, context in try await file(request, context) }
        router.head("files/**") { request, context in try await file(request, context, head: true) }
    }

    func file(_ request: Request, _ context: APIContext, head: Bool = false) async throws -> Response {
        let encoded = String(request.uri.path.dropFirst("/files/".count))
        let key = encoded.removingPercentEncoding ?? encoded
        let query = Query(request)
        guard let expires = query["expires"].flatMap({ Int(String($0)) }), let signature = query["signature"],
            files.verify(key, expires: expires, signature: String(signature))
        else {
            throw APIFailure.forbidden("the link is not valid or has expired; ask the API for a new one")
        }
        guard let local = files.store as? FileSystemStore else { throw APIFailure.notFound("file \(key)") }
        let path = local.path(key)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.intValue
        else { throw APIFailure.notFound("file \(key)") }
        let modified = (attributes[.modificationDate] as? Date) ?? Date()
        let etag = "\"\(String(size, radix: 16))-\(String(Int(modified.timeIntervalSince1970 * 1000), radix: 16))\""
        var headers: HTTPFields = [
            .contentType: Self.contentType(of: key), .eTag: etag, .acceptRanges: "bytes",
            .lastModified: Self.httpDate(modified), .cacheControl: "private, max-age=300",
        ]
        if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: headers) }
        var range: ClosedRange<Int>? = nil
        if let header = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
            guard let parsed = Self.byteRange(header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            range = parsed
            headers[.contentRange] = "bytes \(parsed.lowerBound)-\(parsed.upperBound)/\(size)"
        }
        let length = range.map { $0.count } ?? size
        headers[.contentLength] = String(length)
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if head || length == 0 { return Response(status: status, headers: headers) }
        let body = try await FileIO().loadFile(path: path, range: range ?? 0...(size - 1), context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`; `nil` when unsatisfiable or unreadable.
    static func byteRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst("bytes=".count)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int(first), start < size else { return nil }
        guard !last.isEmpty else { return start...(size - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return start...min(end, size - 1)
    }

    static func contentType(of key: String) -> String { MediaTypes.forPath(key) ?? "application/octet-stream" }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
