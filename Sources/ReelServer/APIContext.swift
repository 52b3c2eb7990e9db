import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ReelStore

/// A request's context: its id (`X-Request-Id`, in every log line), the client's address, and the token that
/// authenticated it (`/api` routes).
public struct APIContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var remoteAddress: SocketAddress?
    /// The request's id: the client's `X-Request-Id` when it sent a sane one, else a fresh one.
    public var requestID = ""
    /// The bearer token's identity, once authenticated.
    public var token: APIToken?
    /// The largest request body accepted.
    public var maxUploadSize: Int { 1 << 20 }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The authenticated token; a handler only runs behind `Authenticate`, so this never throws in practice.
    func caller() throws -> APIToken {
        guard let token else { throw APIFailure.unauthorized }
        return token
    }

    /// The token, if it has `role` or more; 403 otherwise.
    func require(_ role: TokenRole) throws -> APIToken {
        let token = try caller()
        guard token.role >= role else {
            throw APIFailure.forbidden(
                "token \"\(token.name)\" is a \(token.role.rawValue) of namespace \(token.namespace); this needs "
                    + "the \(role.rawValue) role")
        }
        return token
    }

    /// The client's address as text.
    var clientAddress: String? { remoteAddress?.ipAddress }
}

/// Gives every request an id (`X-Request-Id` in and out, `request.id` in log lines), logs it once answered, and
/// turns every error into a `Status` body — so clients see one error shape, also for 404s of unknown routes and
/// 413s of oversized bodies.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let offered = request.headers[.xRequestID] ?? ""
        context.requestID = Self.acceptable(offered) ? offered : UUID().uuidString.lowercased()
        context.logger[metadataKey: "request.id"] = .string(context.requestID)
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.response(for: error, request: request, context: context)
        }
        response.headers[.xRequestID] = context.requestID
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code)",
            metadata: ["duration_ms": .string(String(format: "%.1f", elapsed.seconds * 1000))])
        return response
    }

    /// A request id a client may choose: 1–128 visible ASCII characters.
    static func acceptable(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    static func response(for error: any Error, request: Request, context: APIContext) -> Response {
        var failure: APIFailure
        switch error {
        case let known as APIFailure: failure = known
        case let http as any HTTPResponseError
        where http.status == .notFound && OpenAPIDocument.methods(for: request.uri.path) != nil:
            let allowed = OpenAPIDocument.methods(for: request.uri.path) ?? []
            failure = APIFailure(
                .methodNotAllowed, "MethodNotAllowed",
                "\(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: ", "))")
            failure.headers[.allow] = allowed.joined(separator: ", ")
        case let http as any HTTPResponseError:
            let reason =
                switch http.status {
                case .notFound: "NotFound"
                case .contentTooLarge: "RequestEntityTooLarge"
                case .methodNotAllowed: "MethodNotAllowed"
                case .badRequest: "BadRequest"
                default: http.status.reasonPhrase.replacingOccurrences(of: " ", with: "")
                }
            let message =
                switch http.status {
                case .notFound: "\(request.uri.path) not found"
                case .contentTooLarge: "the request body is larger than \(context.maxUploadSize) bytes"
                default: (http as? HTTPError)?.body ?? http.status.reasonPhrase
                }
            failure = APIFailure(http.status, reason, message)
        case let timeout where Database.isTimeout(timeout):
            context.logger.warning("\(request.method) \(request.uri.path) timed out in the database")
            failure = APIFailure(
                .gatewayTimeout, "Timeout", "the request took too long; request id \(context.requestID)",
                details: APIStatus.Details(retryAfterSeconds: 1))
            failure.headers[.retryAfter] = "1"
        default:
            context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            failure = APIFailure(
                .internalServerError, "InternalError", "internal error; request id \(context.requestID)")
        }
        var response = (try? failure.response(from: request, context: context)) ?? Response(status: failure.status)
        if failure.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"reel\"" }
        return response
    }
}

/// Authenticates `/api` requests with a bearer token (401 without a live one).
struct Authenticate: RouterMiddleware {
    typealias Context = APIContext
    let database: APIDatabase

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
            let token = try await database.tokens.authenticate(
                String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        else { throw APIFailure.unauthorized }
        var context = context
        context.token = token
        context.logger[metadataKey: "tenant"] = .string(token.namespace)
        return try await next(request, context)
    }
}

/// Appends an `audit_log` entry for every mutating call (POST, PUT, PATCH, DELETE) under `/api`, with the code
/// it was answered with — refusals included.
struct AuditMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let database: APIDatabase

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        let verbs: [HTTPRequest.Method: String] = [.post: "create", .put: "update", .patch: "patch", .delete: "delete"]
        guard let verb = verbs[request.method], let token = context.token else {
            return try await next(request, context)
        }
        var resource = String(request.uri.path.dropFirst("/api/".count))
        let code: Int
        do {
            let response = try await next(request, context)
            code = Int(response.status.code)
            if let location = response.headers[.location] { resource = String(location.dropFirst("/api/".count)) }
            await record(verb, resource, code, token, context)
            return response
        } catch {
            code = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            await record(verb, resource, code, token, context)
            throw error
        }
    }

    private func record(_ verb: String, _ resource: String, _ code: Int, _ token: APIToken, _ context: APIContext)
        async
    {
        do {
            try await database.tenant(token.namespace).appendAudit(
                AuditEntry(
                    tokenName: token.name, namespace: token.namespace, verb: verb, resource: resource,
                    requestID: context.requestID, clientAddress: context.clientAddress, code: code))
        } catch {
            context.logger.error("cannot write the audit entry for \(verb) \(resource): \(error)")
        }
    }
}

/// A request's query parameters. An empty text filter is as good as absent (`?continue=` is the first page); an
/// empty number is not a number (`integer` sees it).
struct Query {
    let parameters: [String: String]

    init(_ request: Request) {
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { parameters[String(name)] = String(value) }
        self.parameters = parameters
    }

    /// The parameter's text, `nil` when absent or empty.
    subscript(_ name: String) -> String? { parameters[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// The parameter as sent, empty included.
    func raw(_ name: String) -> String? { parameters[name] }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-Id")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
