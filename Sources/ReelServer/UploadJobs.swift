import Foundation
import ReelAPI
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

/// From a complete upload to a job: the bytes are probed before anything is queued (not a video → the upload is
/// `invalid` with the reason, its bytes removed, no job), then the job its metadata asked for is created.
extension APIHandlers {
    /// The job options `Upload-Metadata` (or the `job` part of `POST /api/upload/queue`) may carry.
    static let jobOptions = ["title", "priority", "provider", "splitSeconds", "strategy", "maxSeconds", "name", "job"]

    /// The VideoJob `metadata` asks for, reading `upload://<id>`; `nil` when it asks for none (no job option and
    /// no `job: true`). 400 when an option is not what it should be.
    static func jobObject(uploadID: String, filename: String, owner: String, metadata: [String: String]) throws
        -> JSONValue?
    {
        let asked = jobOptions.contains { metadata[$0] != nil }
        guard asked, !["false", "0", "no"].contains(metadata["job"]?.lowercased() ?? "") else { return nil }
        func number(_ key: String) throws -> JSONValue? {
            guard let text = metadata[key] else { return nil }
            guard let value = Int(text) else {
                throw APIFailure.badRequest("\(key) must be a whole number, not \(text)")
            }
            return .int(value)
        }
        var spec: [String: JSONValue] = [
            "title": .string(metadata["title"] ?? filename), "owner": .string(owner),
            "source": .object(["uri": .string("upload://\(uploadID)")]),
        ]
        if let priority = metadata["priority"] { spec["priority"] = .string(priority) }
        if let provider = metadata["provider"] { spec["analysis"] = .object(["provider": .string(provider)]) }
        if let seconds = try number("splitSeconds") { spec["split"] = .object(["targetSeconds": seconds]) }
        var timeline: [String: JSONValue] = [:]
        if let strategy = metadata["strategy"] { timeline["strategy"] = .string(strategy) }
        if let seconds = try number("maxSeconds") { timeline["maxSeconds"] = seconds }
        if !timeline.isEmpty { spec["timeline"] = .object(timeline) }
        let meta: [String: JSONValue] =
            metadata["name"].map { ["name": .string($0)] } ?? ["generateName": .string("upload-")]
        return .object([
            "apiVersion": .string(API.version), "kind": .string(VideoJob.names.kind), "metadata": .object(meta),
            "spec": .object(spec),
        ])
    }

    /// Checks the job an upload will create before any byte is sent (422 with the field problems).
    func checkJobOptions(_ metadata: [String: String], filename: String, owner: String, namespace: String) throws {
        guard var object = try Self.jobObject(uploadID: "check", filename: filename, owner: owner, metadata: metadata)
        else { return }
        if case .object(var fields) = object, case .object(var meta)? = fields["metadata"] {
            meta["name"] = meta["name"] ?? .string("upload-check")
            meta["namespace"] = .string(namespace)
            fields["metadata"] = .object(meta)
            object = .object(fields)
        }
        _ = try validated(object)
    }

    /// A job reading `upload://<id>` must name a complete upload of its own namespace (422 otherwise, before the
    /// job exists).
    func checkUploadSource(_ job: VideoJob, namespace: String) async throws {
        let uri = job.spec.source.uri
        guard uri.hasPrefix("upload://") else { return }
        let id = String(uri.dropFirst("upload://".count))
        let upload = try await database.tenant(namespace).upload(id)
        let problem: String? =
            switch upload?.state {
            case nil: "upload \(id) does not exist in namespace \(namespace)"
            case .receiving: "upload \(id) is not complete (\(upload?.received ?? 0) bytes so far)"
            case .invalid: upload?.message ?? "upload \(id) is not a video"
            case .complete: nil
            }
        if let problem {
            throw APIFailure.invalid(
                VideoJob.names.kind, job.metadata.name, [FieldProblem(.invalid, "spec.source.uri", .unknown, problem)])
        }
    }

    /// Completes `upload` (all its bytes are in): the object is made, probed, and the job created when asked.
    /// Returns the upload as it now stands; throws 422 `InvalidMedia` when the bytes are not a video.
    func complete(_ upload: UploadRecord, token: APIToken, tenant: TenantStore) async throws -> UploadRecord {
        let store = try uploads.partialStore()
        let state = try upload.partial.decode(PartialState.self)
        _ = try await store.completePartial(upload.objectKey, state: state)
        var problem: String?
        var media: JSONDocument?
        do {
            let info = try await MediaEngine.probe(try await store.readableLocation(upload.objectKey))
            if !info.streams.contains(where: { $0.kind == .video }) {
                problem = "it has no video stream"
            } else if (info.duration ?? 0) <= 0 {
                problem = "its duration is unknown"
            } else {
                problem = nil
                media = try JSONDocument(encoding: info)
            }
        } catch {
            problem = (error as? MediaError)?.message ?? "\(error)"
        }
        if let problem {
            try? await store.delete(prefix: upload.objectKey)  // the row keeps the reason; the bytes have no use
            let message = "\(upload.filename) is not a video Reel can read: \(problem)"
            try await tenant.finishUpload(upload.id, state: .invalid, reason: "InvalidMedia", message: message)
            throw APIFailure(.unprocessableContent, "InvalidMedia", message)
        }
        try await tenant.finishUpload(upload.id, state: .complete, media: media)
        if let object = try Self.jobObject(
            uploadID: upload.id, filename: upload.filename, owner: upload.owner, metadata: upload.metadata)
        {
            let job = try await createJob(object, token: token)
            try await tenant.attachJob(toUpload: upload.id, uid: job.metadata.uid ?? "", name: job.metadata.name)
        }
        guard let finished = try await tenant.upload(upload.id) else {
            throw APIFailure.notFound("upload \(upload.id)")
        }
        return finished
    }
}
