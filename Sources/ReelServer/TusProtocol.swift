import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ReelSupport

/// The parts of tus 1.0.0 (tus.io/protocols/resumable-upload) the server speaks: headers, metadata, checksums.
enum Tus {
    static let version = "1.0.0"
    static let extensions = [
        "creation", "creation-with-upload", "creation-defer-length", "expiration", "checksum", "termination",
    ]
    static let checksumAlgorithms = ["sha1", "sha256"]
    static let contentType = "application/offset+octet-stream"
    /// 460, the checksum extension's answer to a chunk whose checksum does not match.
    static let checksumMismatch = HTTPResponse.Status(code: 460, reasonPhrase: "Checksum Mismatch")

    /// `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone has an empty value); keys are
    /// ASCII without spaces or commas and unique.
    static func metadata(_ header: String?) throws -> [String: String] {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else { return [:] }
        var result: [String: String] = [:]
        for pair in header.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            guard let key = parts.first, parts.count <= 2, key.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                throw APIFailure.badRequest("Upload-Metadata must be comma-separated \"key base64value\" pairs")
            }
            guard result[String(key)] == nil else {
                throw APIFailure.badRequest("Upload-Metadata names \"\(key)\" twice")
            }
            var value = ""
            if parts.count == 2 {
                guard let data = Data(base64Encoded: String(parts[1])), let text = String(data: data, encoding: .utf8)
                else {
                    throw APIFailure.badRequest("Upload-Metadata value of \"\(key)\" is not base64 of UTF-8 text")
                }
                value = text
            }
            result[String(key)] = value
        }
        return result
    }

    /// `Upload-Metadata` for `values` (keys sorted).
    static func metadataHeader(_ values: [String: String]) -> String {
        values.keys.sorted().map { "\($0) \(Data(values[$0]!.utf8).base64EncodedString())" }.joined(separator: ",")
    }

    /// A non-negative integer header (`Upload-Offset`, `Upload-Length`); 400 when present and not one.
    static func integer(_ request: Request, _ name: String) throws -> Int? {
        guard let field = HTTPField.Name(name), let text = request.headers[field] else { return nil }
        guard let value = Int(text), value >= 0, text.allSatisfy(\.isASCII) else {
            throw APIFailure.badRequest("\(name) must be a non-negative integer, not \"\(text.prefix(40))\"")
        }
        return value
    }
}

/// The checksum a chunk must have (`Upload-Checksum: sha256 <base64>`), computed while the chunk arrives.
struct TusChecksum {
    enum Hasher {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
    }

    let algorithm: String
    let expected: Data
    var hasher: Hasher

    /// The header's checksum; 400 when malformed or of an algorithm this server does not compute.
    init?(_ header: String?) throws {
        guard let header else { return nil }
        let parts = header.split(separator: " ")
        guard parts.count == 2, let expected = Data(base64Encoded: String(parts[1])) else {
            throw APIFailure.badRequest("Upload-Checksum must be \"<algorithm> <base64 digest>\"")
        }
        algorithm = parts[0].lowercased()
        self.expected = expected
        switch algorithm {
        case "sha1": hasher = .sha1(Insecure.SHA1())
        case "sha256": hasher = .sha256(SHA256())
        default:
            throw APIFailure.badRequest(
                "Upload-Checksum algorithm \"\(algorithm)\" is not supported (Tus-Checksum-Algorithm: "
                    + "\(Tus.checksumAlgorithms.joined(separator: ",")))")
        }
    }

    mutating func update(_ bytes: some DataProtocol) {
        switch hasher {
        case .sha1(var h):
            h.update(data: bytes)
            hasher = .sha1(h)
        case .sha256(var h):
            h.update(data: bytes)
            hasher = .sha256(h)
        }
    }

    var matches: Bool {
        switch hasher {
        case .sha1(let h): Data(h.finalize()) == expected
        case .sha256(let h): Data(h.finalize()) == expected
        }
    }
}

/// Adds `Tus-Resumable` to every answer under `/api/uploads` and refuses requests of another protocol version
/// (412, with the versions this server speaks).
struct TusMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            guard request.method == .options || request.headers[.tusResumable] == Tus.version else {
                var failure = APIFailure(
                    .preconditionFailed, "UnsupportedVersion",
                    "Tus-Resumable must be \(Tus.version) (got \(request.headers[.tusResumable] ?? "none"))")
                failure.headers[.tusVersion] = Tus.version
                throw failure
            }
            response = try await next(request, context)
        } catch {
            response = RequestIDMiddleware.response(for: error, request: request, context: context)
        }
        response.headers[.tusResumable] = Tus.version
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

extension HTTPField.Name {
    static let tusResumable = Self("Tus-Resumable")!
    static let tusVersion = Self("Tus-Version")!
    static let tusExtension = Self("Tus-Extension")!
    static let tusMaxSize = Self("Tus-Max-Size")!
    static let tusChecksumAlgorithm = Self("Tus-Checksum-Algorithm")!
    static let uploadOffset = Self("Upload-Offset")!
    static let uploadLength = Self("Upload-Length")!
    static let uploadDeferLength = Self("Upload-Defer-Length")!
    static let uploadMetadata = Self("Upload-Metadata")!
    static let uploadExpires = Self("Upload-Expires")!
    static let uploadChecksum = Self("Upload-Checksum")!
    static let reelJobID = Self("Reel-Job-Id")!
}
