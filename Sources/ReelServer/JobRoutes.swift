import Foundation
import Hummingbird
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// `/api/jobs`: a job is a VideoJob object of the caller's namespace; `{job}` is its uid, or `{namespace}/{name}`.
extension APIHandlers {
    func registerJobs(_ api: RouterGroup<APIContext>) {
        api.post("jobs") { request, context in try await create(request, context) }
        api.get("jobs") { request, context in try await list(request, context) }
        for path in ["jobs/:job", "jobs/:job/:name"] {
            api.get(RouterPath(path)) { _, context in try JSONBody.response(try await job(context).videoJob()) }
            api.patch(RouterPath(path)) { request, context in try await patch(request, context) }
            api.delete(RouterPath(path)) { request, context in try await delete(request, context) }
            api.get(RouterPath(path + "/logs")) { request, context in try await logs(request, context) }
            api.get(RouterPath(path + "/chunks")) { request, context in try await chunks(request, context) }
            api.post(RouterPath(path + "/chunks/refresh")) { request, context in try await chunks(request, context) }
        }
    }

    /// The job a route names, in the caller's namespace; 404 for anything else (another tenant's job included).
    func job(_ context: APIContext) async throws -> StoredResource {
        let tenant = try context.caller().namespace
        let first = context.parameters.get("job") ?? ""
        let found: StoredResource?
        if let name = context.parameters.get("name") {
            found =
                first == tenant
                ? try await writer(tenant).get(ResourceKey(kind: VideoJob.names.kind, namespace: tenant, name: name))
                : nil
        } else {
            found = try await writer(tenant).get(kind: VideoJob.names.kind, namespace: tenant, uid: first)
        }
        guard let found else {
            throw APIFailure.notFound("VideoJob \(first)\(context.parameters.get("name").map { "/\($0)" } ?? "")")
        }
        return found
    }

    func create(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        let body = try await Self.body(request, context)
        let idempotencyKey = request.headers[.idempotencyKey]
        let tenant = database.tenant(token.namespace)
        if let idempotencyKey {
            guard (1...255).contains(idempotencyKey.utf8.count) else {
                throw APIFailure.badRequest("Idempotency-Key must be 1 to 255 characters")
            }
            if let replay = try await replay(idempotencyKey, body: body, tenant: tenant, namespace: token.namespace) {
                return replay
            }
        }
        do {
            let object = try Self.object(body)
            let job = try await createJob(object, token: token)
            let response = try JSONBody.encoder.encode(job)
            if let idempotencyKey {
                try await tenant.finishIdempotencyKey(
                    idempotencyKey, status: 201, body: JSONDocument(text: String(decoding: response, as: UTF8.self)))
            }
            return try JSONBody.response(
                job, status: .created, headers: [.location: "/api/jobs/\(job.metadata.uid ?? "")"])
        } catch {
            if let idempotencyKey { try? await tenant.abandonIdempotencyKey(idempotencyKey) }
            throw error
        }
    }

    /// The first answer to a request with this `Idempotency-Key`, or `nil` once the key is claimed for this one. A
    /// job deleted since no longer holds its key: the request then runs anew.
    private func replay(_ key: String, body: Data, tenant: TenantStore, namespace: String) async throws -> Response? {
        for _ in 0..<2 {
            switch try await tenant.claimIdempotencyKey(key, requestHash: sha256Hex(body), retention: .seconds(86400)) {
            case .claimed: return nil
            case .replay(let status, let stored):
                let uid = (try? stored.decode(VideoJob.self))?.metadata.uid ?? ""
                guard try await writer(namespace).get(kind: VideoJob.names.kind, namespace: namespace, uid: uid) != nil
                else {
                    try await tenant.forgetIdempotencyKey(key)
                    continue
                }
                return JSONBody.response(
                    text: stored.text, status: HTTPResponse.Status(code: status), headers: [.idempotentReplayed: "true"]
                )
            case .mismatch:
                throw APIFailure(
                    .unprocessableContent, "IdempotencyKeyReused",
                    "Idempotency-Key \"\(key)\" was used with a different request body")
            case .inFlight:
                throw APIFailure.conflict("a request with Idempotency-Key \"\(key)\" is still in progress")
            }
        }
        throw APIFailure.conflict("Idempotency-Key \"\(key)\" is being reused concurrently")
    }

    func createJob(_ object: JSONValue, token: APIToken) async throws -> VideoJob {
        guard case .object(var fields) = object else {
            throw APIFailure.badRequest("the body must be a VideoJob object")
        }
        fields["apiVersion"] = fields["apiVersion"] ?? .string(API.version)
        fields["kind"] = fields["kind"] ?? .string(VideoJob.names.kind)
        var metadata: [String: JSONValue] = [:]
        switch fields["metadata"] {
        case .object(let given)?: metadata = given
        case nil, .null?: break
        default: _ = try validated(.object(fields))  // not an object: the decoder says so, with every other problem
        }
        if case .string(let namespace)? = metadata["namespace"], namespace != token.namespace {
            throw APIFailure.forbidden(
                "token \"\(token.name)\" belongs to namespace \(token.namespace), not \(namespace)")
        }
        // Filled in where absent; a value of the wrong type is left for the decoder to report.
        if metadata["namespace"] == nil || metadata["namespace"] == .null {
            metadata["namespace"] = .string(token.namespace)
        }
        let generated = metadata["name"] == nil || metadata["name"] == .null
        for attempt in 0..<5 {
            if generated {
                var prefix = "job-"
                if case .string(let given)? = metadata["generateName"] { prefix = given }
                metadata["name"] = .string(prefix + Self.randomSuffix())
            }
            fields["metadata"] = .object(metadata)
            let job = try validated(.object(fields))
            try await checkUploadSource(job, namespace: token.namespace)
            do {
                let stored = try await writing {
                    try await writer(token.namespace).create(
                        NewResource(
                            key: ResourceKey(
                                kind: VideoJob.names.kind, namespace: token.namespace, name: job.metadata.name),
                            labels: job.metadata.labels ?? [:], annotations: job.metadata.annotations ?? [:],
                            spec: try JSONDocument(encoding: job.spec)))
                }
                return try stored.videoJob()
            } catch let failure as APIFailure where failure.reason == "AlreadyExists" && generated && attempt < 4 {
                continue
            }
        }
        throw APIFailure.conflict("no free generated name after 5 tries")
    }

    /// The one validation path (`ResourceDecoder`), plus what only an HTTP caller may not do: name server files.
    func validated(_ object: JSONValue) throws -> VideoJob {
        var name: String?
        if case .object(let fields) = object, case .object(let meta)? = fields["metadata"],
            case .string(let given)? = meta["name"]
        {
            name = given
        }
        switch ResourceDecoder.decode(json: object) {
        case .resource(.videoJob(let job)):
            let problems = fileProblems(job.spec)
            guard problems.isEmpty else {
                // Not a malformed job: a request for what this caller may not have (the server's files).
                var refusal = APIFailure.invalid(VideoJob.names.kind, name, problems)
                refusal.status = .forbidden
                refusal.reason = "Forbidden"
                throw refusal
            }
            return job
        case .resource(.workerPool):
            throw APIFailure.invalid(
                VideoJob.names.kind, name, [FieldProblem(.notSupported, "kind", .unknown, "must be VideoJob here")])
        case .invalid(let problems): throw APIFailure.invalid(VideoJob.names.kind, name, problems)
        case .foreign(let apiVersion, let kind):
            throw APIFailure.invalid(
                VideoJob.names.kind, name,
                [
                    FieldProblem(
                        .notSupported, "apiVersion", .unknown,
                        "\"\(apiVersion)\" (kind \"\(kind)\") is not a Reel resource: must be \(API.version)")
                ])
        }
    }

    /// `file://` sources and outputs are the server's files: only under the roots the server allows for HTTP.
    func fileProblems(_ spec: VideoJobSpec) -> [FieldProblem] {
        let uris = [("spec.source.uri", spec.source.uri), ("spec.output.uri", spec.output?.uri ?? "")]
        return uris.compactMap { field, uri in
            guard uri.hasPrefix("file://") else { return nil }
            let path = try? settings.fileRoots.lexicalPath(fileURI: uri, base: nil)
            if let path, settings.fileRoots.contains(path) { return nil }
            return FieldProblem(
                .forbidden, field, .unknown,
                settings.fileRoots.roots.isEmpty
                    ? "file:// URIs are not accepted over HTTP; use http(s)://, s3:// or an upload"
                    : "\(uri) is outside the directories this server allows ("
                        + settings.fileRoots.roots.joined(separator: ", ") + ")"
            )
        }
    }

    func patch(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        let stored = try await job(context)
        try Self.refuseFileDeclared(stored, "change")
        guard case .object(let patch) = try Self.object(try await Self.body(request, context)) else {
            throw APIFailure.badRequest("a JSON merge patch must be an object")
        }
        var expected = try Self.ifMatch(request)
        var problems: [FieldProblem] = []
        for key in patch.keys.sorted() where !["spec", "metadata", "apiVersion", "kind"].contains(key) {
            problems.append(
                FieldProblem(.forbidden, key, .unknown, "only spec and metadata.labels/annotations may be patched"))
        }
        if case .object(let meta)? = patch["metadata"] {
            for key in meta.keys.sorted()
            where !["labels", "annotations", "resourceVersion", "name", "namespace"].contains(key) {
                problems.append(
                    FieldProblem(.forbidden, "metadata.\(key)", .unknown, "only labels and annotations may be patched"))
            }
            if case .string(let version)? = meta["resourceVersion"] { expected = Int64(version) ?? -1 }
        }
        guard problems.isEmpty else { throw APIFailure.invalid(VideoJob.names.kind, stored.key.name, problems) }
        let current = try JSONDocument(encoding: try stored.videoJob()).decode(JSONValue.self)
        var merged = current.merging(patch: .object(patch))
        if case .object(var fields) = merged {
            fields["status"] = nil
            merged = .object(fields)
        }
        let job = try validated(merged)
        try await checkUploadSource(job, namespace: token.namespace)
        let updated = try await writing {
            try await writer(token.namespace).update(
                NewResource(
                    key: stored.key, labels: job.metadata.labels ?? [:], annotations: job.metadata.annotations ?? [:],
                    spec: try JSONDocument(encoding: job.spec)), expectedVersion: expected ?? stored.resourceVersion)
        }
        return try JSONBody.response(try updated.videoJob())
    }

    func delete(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.editor)
        let stored = try await job(context)
        try Self.refuseFileDeclared(stored, "delete")
        if let expected = try Self.ifMatch(request), expected != stored.resourceVersion {
            throw APIFailure.conflict(
                "\(stored.key) has resourceVersion \(stored.resourceVersion), not \(expected): read it again and retry")
        }
        try await writing {
            try await writer(token.namespace).delete(stored.key)
        }
        let remaining = try await writer(token.namespace).get(stored.key)
        if let remaining { return try JSONBody.response(try remaining.videoJob(), status: .accepted) }
        let status = APIStatus.success(
            "\(stored.key) deleted", reason: "Deleted", code: 202,
            details: APIStatus.Details(name: stored.key.name, kind: VideoJob.names.kind, uid: stored.uid))
        return try JSONBody.response(status, status: .accepted)
    }

    /// A resource a file declares is the file's (GitOps): 409 naming the file.
    static func refuseFileDeclared(_ stored: StoredResource, _ verb: String) throws {
        guard let file = stored.sourceFile else { return }
        throw APIFailure.conflict("\(stored.key) is declared in \(file): \(verb) it there")
    }

    /// `If-Match: "7"` or `If-Match: 7` → 7; a value that is no resourceVersion fails the precondition (412).
    static func ifMatch(_ request: Request) throws -> Int64? {
        guard let header = request.headers[.ifMatch] else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard let version = Int64(trimmed) else {
            throw APIFailure(
                .preconditionFailed, "PreconditionFailed",
                "If-Match \(header) is not a resourceVersion of this job (send metadata.resourceVersion)")
        }
        return version
    }

    /// The request body, within the limit (413 beyond it).
    static func body(_ request: Request, _ context: APIContext) async throws -> Data {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        return Data(buffer: buffer)
    }

    /// The body as JSON (400 when it is not).
    static func object(_ body: Data) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw APIFailure.badRequest("the body is not JSON: \(error)")
        }
    }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
