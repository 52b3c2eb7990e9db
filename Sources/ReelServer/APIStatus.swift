import Foundation
import Hummingbird
import ReelAPI
import ReelCore

/// Every error the API returns, in one shape: a Kubernetes `Status` (`kind: Status`, `code`, `reason`, `message`,
/// `details.causes[]` with `field` paths).
public struct APIStatus: Codable, Sendable, Equatable {
    public struct Cause: Codable, Sendable, Equatable {
        public var reason: String
        public var message: String
        public var field: String?
    }

    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public var kind = "Status"
    public var apiVersion = "v1"
    public var status = "Failure"
    public var message: String
    public var reason: String
    public var code: Int
    public var details: Details?

    /// A `Status` of success, for an answer that is no object (202 to a deletion under way, a drain asked for).
    static func success(_ message: String, reason: String, code: Int, details: Details? = nil) -> APIStatus {
        APIStatus(status: "Success", message: message, reason: reason, code: code, details: details)
    }
}

/// An error a handler throws to answer with a `Status`.
public struct APIFailure: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var reason: String
    public var message: String
    public var details: APIStatus.Details?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ reason: String, _ message: String, details: APIStatus.Details? = nil) {
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(status.code) \(reason): \(message)" }

    var body: APIStatus {
        APIStatus(message: message, reason: reason, code: status.code, details: details)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONBody.response(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String) -> APIFailure { APIFailure(.badRequest, "BadRequest", message) }
    static let unauthorized = APIFailure(
        .unauthorized, "Unauthorized",
        "a bearer token is required (Authorization: Bearer reel_…); see reel token create")
    static func forbidden(_ message: String) -> APIFailure { APIFailure(.forbidden, "Forbidden", message) }
    static func notFound(_ what: String) -> APIFailure { APIFailure(.notFound, "NotFound", "\(what) not found") }
    static func conflict(_ message: String) -> APIFailure { APIFailure(.conflict, "Conflict", message) }

    /// A 422 listing every problem with its field path, in `reel validate`'s words.
    static func invalid(_ kind: String, _ name: String?, _ problems: [FieldProblem]) -> APIFailure {
        let causes = problems.map {
            APIStatus.Cause(
                reason: Self.causeReason($0.code), message: $0.message, field: $0.path.isEmpty ? nil : $0.path)
        }
        let summary = problems.map { $0.path.isEmpty ? $0.message : "\($0.path): \($0.message)" }
        return APIFailure(
            .unprocessableContent, "Invalid",
            "\(kind) \"\(name ?? "")\" is invalid: \(summary.joined(separator: "; "))",
            details: APIStatus.Details(name: name, kind: kind, causes: causes))
    }

    /// Kubernetes' cause reason for a field problem.
    static func causeReason(_ code: FieldProblem.Code) -> String {
        switch code {
        case .required: "FieldValueRequired"
        case .duplicate: "FieldValueDuplicate"
        case .notSupported: "FieldValueNotSupported"
        case .forbidden: "FieldValueForbidden"
        case .tooLong: "FieldValueTooLong"
        case .type: "FieldValueTypeInvalid"
        case .unknownField: "FieldValueUnknown"
        default: "FieldValueInvalid"
        }
    }

    /// The answer to a refused resource write.
    static func from(_ error: ResourceWriteError) -> APIFailure {
        switch error {
        case .notFound(let key): .notFound("\(key.kind) \(key.name)")
        case .alreadyExists(let key):
            APIFailure(
                .conflict, "AlreadyExists", "\(key.kind) \"\(key.name)\" already exists",
                details: APIStatus.Details(name: key.name, kind: key.kind))
        case .conflict(_, let message): .conflict(message)
        }
    }
}

/// JSON responses: sorted keys, ISO 8601 dates, no escaped slashes.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp(date).description)
        }
        return encoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// JSON text already made (a stored document).
    static func response(text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(
            status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
