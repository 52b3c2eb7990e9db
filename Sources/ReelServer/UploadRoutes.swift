import Foundation
import HTTPTypes
import Hummingbird
import ReelAPI
import ReelStorage
import ReelStore
import ReelSupport

/// `/api/uploads`: tus 1.0.0 with creation, creation-with-upload, creation-defer-length, expiration, checksum and
/// termination; `GET` shows an upload as JSON (its offset, state, the probe's findings and its job).
extension APIHandlers {
    func registerUploads(_ router: Router<APIContext>, _ api: RouterGroup<APIContext>) {
        router.group("api/uploads").add(middleware: TusMiddleware()).on("", method: .options) { _, _ in
            Response(
                status: .noContent,
                headers: [
                    .tusVersion: Tus.version, .tusExtension: Tus.extensions.joined(separator: ","),
                    .tusMaxSize: "\(uploads.limits.maxBytes)",
                    .tusChecksumAlgorithm: Tus.checksumAlgorithms.joined(separator: ","),
                ])
        }
        let tus = api.group("uploads").add(middleware: TusMiddleware())
        tus.post { request, context in try await createUpload(request, context) }
        tus.head(":upload") { _, context in try await headUpload(context) }
        tus.patch(":upload") { request, context in try await patchUpload(request, context) }
        tus.delete(":upload") { _, context in try await terminateUpload(context) }
        api.get("uploads") { _, context in
            let token = try context.caller()
            let list = try await database.tenant(token.namespace).uploads(limit: 500)
            return try JSONBody.response(UploadList(items: try list.map(UploadView.init)))
        }
        api.get("uploads/:upload") { _, context in try JSONBody.response(UploadView(try await upload(context))) }
    }

    /// The upload a route names, in the caller's tenant (404 for anything else, another tenant's included).
    func upload(_ context: APIContext) async throws -> UploadRecord {
        let id = context.parameters.get("upload") ?? ""
        guard let found = try await database.tenant(try context.caller().namespace).upload(id) else {
            throw APIFailure.notFound("upload \(id)")
        }
        return found
    }

    func createUpload(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        let length = try Tus.integer(request, "Upload-Length")
        let deferred = request.headers[.uploadDeferLength]
        guard (length == nil) != (deferred == nil), deferred == nil || deferred == "1" else {
            throw APIFailure.badRequest("send exactly one of Upload-Length or Upload-Defer-Length: 1")
        }
        if length == 0 { throw APIFailure.badRequest("Upload-Length is 0: an empty file is not a video") }
        if let length, length > uploads.limits.maxBytes {
            throw APIFailure(
                .contentTooLarge, "RequestEntityTooLarge",
                "the upload is \(length) bytes; this server takes at most \(uploads.limits.maxBytes) (Tus-Max-Size)")
        }
        let metadata = try Tus.metadata(request.headers[.uploadMetadata])
        let filename = metadata["filename"].flatMap { $0.isEmpty ? nil : $0 } ?? "upload"
        try checkJobOptions(metadata, filename: filename, owner: token.name, namespace: token.namespace)
        let id = try await newUpload(token: token, filename: filename, length: length, metadata: metadata).id
        let tenant = database.tenant(token.namespace)
        var headers: HTTPFields = [.location: "\(base(request))/api/uploads/\(id)"]
        if request.headers[.contentType] == Tus.contentType {
            do {
                let response = try await append(request, context, id: id, offset: 0)
                headers.append(contentsOf: response.headers)
            } catch var failure as APIFailure {
                failure.headers[.location] = headers[.location]  // the upload exists: the client may resume it
                throw failure
            }
        } else if let upload = try await tenant.upload(id) {
            headers.append(contentsOf: Self.uploadHeaders(upload, offset: 0))
        }
        return Response(status: .created, headers: headers)
    }

    /// Starts an upload in the store and records it, if it fits the tenant's quota (413 otherwise).
    func newUpload(token: APIToken, filename: String, length: Int?, metadata: [String: String]) async throws
        -> UploadRecord
    {
        let store = try uploads.partialStore()
        let id = Base64URL.encode(Data((0..<16).map { _ in UInt8.random(in: 0...255) }))
        let key = "\(S3Store.resumablePrefix)\(token.namespace)/\(id)/\(Self.safeName(filename))"
        let state = try await store.beginPartial(key, expectedBytes: length)
        let tenant = database.tenant(token.namespace)
        let created = try await tenant.createUpload(
            NewUpload(
                id: id, owner: token.name, filename: filename, filetype: metadata["filetype"], length: length,
                metadata: metadata, objectKey: key, partial: JSONDocument(encoding: state),
                expiresAt: Date().addingTimeInterval(uploads.limits.expiry.seconds)),
            quota: uploads.limits.tenantQuota)
        guard created, let upload = try await tenant.upload(id) else {
            try? await store.abortPartial(key, state: state)
            throw APIFailure(
                .contentTooLarge, "QuotaExceeded",
                "namespace \(token.namespace) may hold \(uploads.limits.tenantQuota ?? 0) bytes of uploads; "
                    + "this one does not fit")
        }
        return upload
    }

    func headUpload(_ context: APIContext) async throws -> Response {
        let upload = try await upload(context)
        var headers = Self.uploadHeaders(upload, offset: try await uploads.offset(of: upload))
        if let length = upload.length {
            headers[.uploadLength] = "\(length)"
        } else {
            headers[.uploadDeferLength] = "1"
        }
        if !upload.metadata.isEmpty { headers[.uploadMetadata] = Tus.metadataHeader(upload.metadata) }
        return Response(status: .ok, headers: headers)
    }

    func patchUpload(_ request: Request, _ context: APIContext) async throws -> Response {
        _ = try context.require(.editor)
        guard request.headers[.contentType] == Tus.contentType else {
            throw APIFailure(
                .unsupportedMediaType, "UnsupportedMediaType", "a PATCH body must be of type \(Tus.contentType)")
        }
        guard let offset = try Tus.integer(request, "Upload-Offset") else {
            throw APIFailure.badRequest("Upload-Offset is required")
        }
        return try await append(request, context, id: context.parameters.get("upload") ?? "", offset: offset)
    }

    /// Appends the request's body at `offset` (PATCH, or POST with creation-with-upload) and completes the upload
    /// when its last byte arrived.
    func append(_ request: Request, _ context: APIContext, id: String, offset: Int) async throws -> Response {
        let token = try context.require(.editor)
        let checksum = try TusChecksum(request.headers[.uploadChecksum])
        let tenant = database.tenant(token.namespace)
        let writer = "\(context.requestID)/\(UInt64.random(in: 0...UInt64.max))"
        var upload: UploadRecord
        switch try await tenant.claimUpload(id, writer: writer, lease: uploads.limits.lease) {
        case .missing: throw APIFailure.notFound("upload \(id)")
        case .busy: throw APIFailure.conflict("another request is appending to upload \(id); try again when it ends")
        case .finished(let done):
            throw APIFailure.conflict("upload \(id) is \(done.state.rawValue); it takes no more bytes")
        case .claimed(let claimed): upload = claimed
        }
        do {
            let current = try await uploads.offset(of: upload)
            guard offset == current else {
                var failure = APIFailure.conflict("Upload-Offset is \(offset), but the upload holds \(current) bytes")
                failure.headers[.uploadOffset] = "\(current)"
                throw failure
            }
            if let length = try Tus.integer(request, "Upload-Length"), length != upload.length {
                try await declareLength(length, of: upload, tenant: tenant, offset: current)
                upload.length = length
            }
            upload.received = try await uploads.receive(
                upload, tenant: tenant, writer: writer, at: offset, body: request.body, checksum: checksum)
            if let length = upload.length, upload.received == length {
                upload = try await complete(upload, token: token, tenant: tenant)
            } else {
                try await tenant.releaseUpload(id, writer: writer)
                upload = try await tenant.upload(id) ?? upload
            }
        } catch {
            try? await tenant.releaseUpload(id, writer: writer)
            throw error
        }
        return Response(status: .noContent, headers: Self.uploadHeaders(upload, offset: upload.received))
    }

    /// Sets a deferred `Upload-Length` (413 over the limit or the tenant's quota; 400 below what arrived or when
    /// it was set before).
    func declareLength(_ length: Int, of upload: UploadRecord, tenant: TenantStore, offset: Int) async throws {
        guard upload.length == nil else {
            throw APIFailure.badRequest("Upload-Length is \(upload.length ?? 0) already; it cannot change")
        }
        guard length >= offset else { throw APIFailure.badRequest("Upload-Length \(length) is below the offset") }
        guard length <= uploads.limits.maxBytes,
            try await tenant.declareUploadLength(upload.id, length: length, quota: uploads.limits.tenantQuota)
        else {
            throw APIFailure(
                .contentTooLarge, "RequestEntityTooLarge", "an upload of \(length) bytes is over the limit or quota")
        }
    }

    func terminateUpload(_ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        let found = try await upload(context)
        let tenant = database.tenant(token.namespace)
        if let uid = found.jobUID,
            let job = try await writer(token.namespace).get(
                kind: VideoJob.names.kind, namespace: token.namespace, uid: uid),
            !(try job.videoJob().status?.phase?.isFinished ?? false)
        {
            throw APIFailure.conflict("job \(job.key.name) reads this upload; delete it or let it finish first")
        }
        let writer = "terminate/\(context.requestID)"
        if case .busy = try await tenant.claimUpload(found.id, writer: writer, lease: uploads.limits.lease) {
            throw APIFailure.conflict("a request is appending to upload \(found.id); terminate it when that ends")
        }
        let store = try uploads.partialStore()
        if found.state == .receiving {
            try await store.abortPartial(found.objectKey, state: try found.partial.decode(PartialState.self))
        } else {
            try await store.delete(prefix: found.objectKey)
        }
        _ = try await tenant.deleteUpload(found.id)
        return Response(status: .noContent)
    }

    /// `Upload-Offset`, `Upload-Expires` while incomplete, `Reel-Job-Id` once a job reads it.
    static func uploadHeaders(_ upload: UploadRecord, offset: Int) -> HTTPFields {
        var headers: HTTPFields = [.uploadOffset: "\(offset)"]
        if upload.state == .receiving, let expires = upload.expiresAt {
            headers[.uploadExpires] = APIHandlers.httpDate(expires)
        }
        if let uid = upload.jobUID { headers[.reelJobID] = uid }
        return headers
    }

    /// A file name safe as the last segment of a key: letters, digits, `.`, `-`, `_` (others become `_`).
    static func safeName(_ filename: String) -> String {
        let last = filename.split(separator: "/").last.map(String.init) ?? ""
        var name = String(
            last.unicodeScalars.map {
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789.-_".unicodeScalars.contains($0))
                    ? Character($0) : "_"
            }.prefix(100))
        while name.hasPrefix(".") { name.removeFirst() }
        return name.isEmpty ? "upload" : name
    }
}

/// An upload as `GET /api/uploads/{id}` shows it.
struct UploadView: Encodable {
    struct Job: Encodable {
        var uid: String
        var name: String
    }

    var id: String
    var namespace: String
    var owner: String
    var filename: String
    var filetype: String?
    var length: Int?
    var offset: Int
    var state: String
    var reason: String?
    var message: String?
    var metadata: [String: String]
    var media: JSONValue?
    var job: Job?
    var createdAt: Date
    var expiresAt: Date?
    var completedAt: Date?
    /// What a VideoJob names to read it (`upload://<id>`), once complete.
    var uri: String?

    init(_ upload: UploadRecord) throws {
        id = upload.id
        namespace = upload.namespace
        owner = upload.owner
        filename = upload.filename
        filetype = upload.filetype
        length = upload.length
        offset = upload.received
        state = upload.state.rawValue
        reason = upload.reason
        message = upload.message
        metadata = upload.metadata
        media = try upload.media?.decode(JSONValue.self)
        job = upload.jobUID.map { Job(uid: $0, name: upload.jobName ?? "") }
        createdAt = upload.createdAt
        expiresAt = upload.expiresAt
        completedAt = upload.completedAt
        uri = upload.state == .complete ? "upload://\(upload.id)" : nil
    }
}

struct UploadList: Encodable {
    var kind = "UploadList"
    var items: [UploadView]
}
