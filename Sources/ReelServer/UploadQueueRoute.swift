import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import ReelAPI
import ReelStorage
import ReelStore
import ReelSupport

/// `POST /api/upload/queue`, the seed's endpoint, for clients that cannot speak tus: one `multipart/form-data`
/// request with a `file` part (streamed into storage as it arrives, never whole in memory) and a `job` part (a
/// JSON object of job options: title, priority, provider, splitSeconds, strategy, maxSeconds, name). Answers 201
/// with the upload and the job.
extension APIHandlers {
    func registerUploadQueue(_ api: RouterGroup<APIContext>) {
        api.post("upload/queue") { request, context in try await queueUpload(request, context) }
    }

    func queueUpload(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        guard let type = request.headers[.contentType], let boundary = Self.boundary(type) else {
            throw APIFailure(
                .unsupportedMediaType, "UnsupportedMediaType", "the body must be multipart/form-data with a boundary")
        }
        let parser = MultipartParser(boundary: boundary)
        let events = MultipartEvents()
        parser.onHeader = { name, value in events.items.append(.header(name, value)) }
        parser.onBody = { buffer in events.items.append(.body(buffer)) }
        parser.onPartComplete = { events.items.append(.end) }
        let intake = QueueIntake(handlers: self, token: token)
        do {
            for try await buffer in request.body {
                do { try parser.execute(buffer) } catch {
                    throw APIFailure.badRequest("the multipart body is malformed: \(error)")
                }
                for event in events.take() { try await intake.handle(event) }
            }
            let (upload, job) = try await intake.finish()
            return try JSONBody.response(
                QueuedUpload(upload: try UploadView(upload), job: job), status: .created,
                headers: [.location: "/api/jobs/\(job.metadata.uid ?? "")"])
        } catch {
            await intake.abandon()
            throw error
        }
    }

    /// The `boundary` parameter of a `multipart/form-data` content type.
    static func boundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }
}

/// What the parser reported since it was last asked (its callbacks are synchronous; the writes are not).
final class MultipartEvents {
    enum Event {
        case header(String, String)
        case body(ByteBuffer)
        case end
    }

    var items: [Event] = []

    func take() -> [Event] {
        defer { items.removeAll(keepingCapacity: true) }
        return items
    }
}

/// The parts of one `POST /api/upload/queue`, as they arrive.
final class QueueIntake {
    let handlers: APIHandlers
    let token: APIToken
    var headers: [String: String] = [:]
    var part: String?
    var jobText: [UInt8] = []
    var options: [String: String]?
    var upload: UploadRecord?
    var session: UploadSession?
    let writer = "queue/\(UInt64.random(in: 0...UInt64.max))"

    init(handlers: APIHandlers, token: APIToken) {
        self.handlers = handlers
        self.token = token
    }

    var tenant: TenantStore { handlers.database.tenant(token.namespace) }

    func handle(_ event: MultipartEvents.Event) async throws {
        switch event {
        case .header(let name, let value):
            headers[name.lowercased()] = value
        case .body(let buffer):
            if part == nil { try await begin() }
            if part == "file" {
                try await session?.feed(buffer)
            } else {
                jobText += buffer.readableBytesView
                guard jobText.count <= 65536 else { throw APIFailure.badRequest("the job part is over 64 KiB") }
            }
        case .end:
            if part == nil { try await begin() }
            if part == "file", let session, var upload {
                upload.received = try await session.finish()
                self.upload = upload
                self.session = nil
            } else if part == "job" {
                try readOptions()
            }
            headers = [:]
            part = nil
        }
    }

    /// A part's headers are in: which part it is.
    private func begin() async throws {
        let disposition = headers["content-disposition"] ?? ""
        let name = Self.parameter("name", in: disposition)
        switch name {
        case "file":
            guard upload == nil else { throw APIFailure.badRequest("send one file part") }
            let filename = Self.parameter("filename", in: disposition).flatMap { $0.isEmpty ? nil : $0 } ?? "upload"
            var metadata = ["filename": filename]
            if let type = headers["content-type"] { metadata["filetype"] = type }
            let created = try await handlers.newUpload(
                token: token, filename: filename, length: nil, metadata: metadata)
            guard
                case .claimed(let claimed) = try await tenant.claimUpload(
                    created.id, writer: writer, lease: handlers.uploads.limits.lease)
            else { throw APIFailure.conflict("upload \(created.id) is taken") }
            upload = claimed
            session = try await UploadSession(
                service: handlers.uploads, upload: claimed, tenant: tenant, writer: writer, offset: 0, checksum: nil)
        case "job":
            guard options == nil else { throw APIFailure.badRequest("send one job part") }
        default:
            throw APIFailure.badRequest("unexpected part \"\(name ?? "")\": send a file part and a job part")
        }
        part = name
    }

    /// The `job` part: a JSON object of job options (strings or numbers), checked before the file is complete.
    private func readOptions() throws {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(jobText)) else {
            throw APIFailure.badRequest("the job part must be a JSON object of job options")
        }
        var options: [String: String] = [:]
        for (key, value) in fields {
            guard APIHandlers.jobOptions.contains(key) else {
                throw APIFailure.badRequest(
                    "unknown job option \"\(key)\" (known: \(APIHandlers.jobOptions.joined(separator: ", ")))")
            }
            switch value {
            case .string(let text): options[key] = text
            case .int(let number): options[key] = "\(number)"
            case .bool(let flag): options[key] = "\(flag)"
            default: throw APIFailure.badRequest("job option \"\(key)\" must be a string or a number")
            }
        }
        options["job"] = "true"
        try handlers.checkJobOptions(
            options, filename: upload?.filename ?? "upload", owner: token.name, namespace: token.namespace)
        self.options = options
    }

    /// Every part is in: the upload's length is what arrived; it is completed (probed) and its job created.
    func finish() async throws -> (UploadRecord, VideoJob) {
        guard var upload, session == nil else { throw APIFailure.badRequest("the body has no complete file part") }
        upload.metadata.merge(options ?? ["job": "true"]) { _, option in option }
        try await handlers.declareLength(upload.received, of: upload, tenant: tenant, offset: upload.received)
        upload.length = upload.received
        self.upload = nil  // from here an invalid upload keeps its row and reason
        let finished = try await handlers.complete(upload, token: token, tenant: tenant)
        guard let uid = finished.jobUID,
            let job = try await handlers.writer(token.namespace).get(
                kind: VideoJob.names.kind, namespace: token.namespace, uid: uid)
        else { throw APIFailure.notFound("the job of upload \(finished.id)") }
        return (finished, try job.videoJob())
    }

    /// The request failed: a half-received file is removed with its row.
    func abandon() async {
        guard let upload, upload.state == .receiving, let store = handlers.uploads.store else { return }
        if let session { await session.fail(APIFailure.conflict("abandoned")) }
        try? await store.abortPartial(upload.objectKey, state: upload.partial.decode(PartialState.self))
        _ = try? await tenant.deleteUpload(upload.id)
    }

    /// `name="value"` in a `Content-Disposition` header.
    static func parameter(_ name: String, in header: String) -> String? {
        for item in header.split(separator: ";") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == name {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}

/// The answer to `POST /api/upload/queue`.
struct QueuedUpload: Encodable {
    var upload: UploadView
    var job: VideoJob
}
