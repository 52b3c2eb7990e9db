import Foundation
import Hummingbird
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// `GET /api/jobs` (filters, newest first, `limit`/`continue`), a job's logs and its chunks with signed URLs.
extension APIHandlers {
    /// A job and where it stands in the list.
    struct Listed {
        var position: ContinueToken.Position
        var job: VideoJob
    }

    /// A `VideoJobList`, as the API server would send it.
    struct JobList: Encodable {
        struct Meta: Encodable {
            var `continue`: String?
            var remainingItemCount: Int?
        }
        var apiVersion = API.version
        var kind = VideoJob.names.listKind
        var metadata: Meta
        var items: [VideoJob]
    }

    func list(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.caller()
        let query = Query(request)
        let limit = try Self.integer(query.raw("limit"), name: "limit", default: 50, range: 1...500)
        let selector = try LabelSelector(query["labelSelector"] ?? "")
        let phases = query["phase"].map { Set($0.split(separator: ",").map { String($0).lowercased() }) }
        let owner = query["owner"]
        let text = query["q"]?.lowercased()
        var jobs = try await writer(token.namespace).list(kind: VideoJob.names.kind, namespace: token.namespace)
            .map { Listed(position: Self.position($0), job: try $0.videoJob()) }
            .filter { listed in
                let job = listed.job
                return selector.matches(job.metadata.labels ?? [:])
                    && (phases?.contains((job.status?.phase?.rawValue ?? "Pending").lowercased()) ?? true)
                    && (owner.map { $0 == job.spec.owner } ?? true)
                    && (text.map { (job.spec.title ?? "").lowercased().contains($0) } ?? true)
            }
        jobs.sort { $0.position > $1.position }
        if let token = query["continue"] {
            guard let after = ContinueToken(String(token)) else {
                throw APIFailure.badRequest("continue token \"\(token)\" is not one this server gave")
            }
            jobs = jobs.filter { $0.position < after.position }
        }
        let page = Array(jobs.prefix(limit))
        let more = jobs.count > page.count
        let next = more ? page.last.map { ContinueToken(position: $0.position).text } : nil
        return try JSONBody.response(
            JobList(
                metadata: .init(continue: next, remainingItemCount: more ? jobs.count - page.count : nil),
                items: page.map(\.job)))
    }

    /// Where a job stands in "newest first": creation time (to the microsecond the backend keeps), then uid.
    static func position(_ stored: StoredResource) -> ContinueToken.Position {
        ContinueToken.Position(time: stored.creationTimestamp.timeIntervalSince1970, uid: stored.uid)
    }

    /// A job's log lines: `level` (the least severe to show), `since` (RFC 3339), `limit`, `after` (the cursor:
    /// the last id seen).
    struct LogPage: Encodable {
        struct Line: Encodable {
            var id: Int64
            var time: Date
            var level: String
            var message: String
            var fields: JSONValue
            var stage: String?
            var chunk: Int?
        }
        var items: [Line]
        /// Pass as `after` for the next page (or to follow).
        var cursor: String
    }

    static let levels = ["debug", "info", "notice", "warning", "error", "critical"]

    func logs(_ request: Request, _ context: APIContext) async throws -> Response {
        let job = try await job(context)
        let query = Query(request)
        let limit = try Self.integer(query.raw("limit"), name: "limit", default: 200, range: 1...5000)
        let after = try Self.integer(query.raw("after"), name: "after", default: 0, range: 0...Int.max)
        let level = query.raw("level")?.lowercased() ?? "debug"
        guard let floor = Self.levels.firstIndex(of: level) else {
            throw APIFailure.badRequest("level must be one of \(Self.levels.joined(separator: ", "))")
        }
        var since: Date?
        if let text = query.raw("since") {
            guard let parsed = Timestamp(rfc3339: String(text)) else {
                throw APIFailure.badRequest("since must be an RFC 3339 time, like 2026-11-30T12:00:00Z")
            }
            since = parsed.date
        }
        let lines = try await database.tenant(job.key.namespace).logs(
            ofJob: job.uid, levels: Array(Self.levels[floor...]), since: since, after: Int64(after), limit: limit)
        let items = try lines.map {
            LogPage.Line(
                id: $0.id, time: $0.time, level: $0.level, message: $0.message,
                fields: try $0.fields.decode(JSONValue.self), stage: $0.stage, chunk: $0.chunkIndex)
        }
        return try JSONBody.response(LogPage(items: items, cursor: String(lines.last?.id ?? Int64(after))))
    }

    /// A job's chunks and outputs, each with a signed URL.
    struct ChunkPage: Encodable {
        struct Chunk: Encodable {
            var index: Int
            var start: Double
            var duration: Double
            var bytes: Int64
            var sha256: String
            var analysis: JSONValue?
            var analyzedAt: Date?
            var url: String
            var expiresAt: Date
        }
        struct Output: Encodable {
            var uri: String
            /// `nil` when the output is outside the store (a `file://` directory the job named).
            var url: String?
            var expiresAt: Date?
        }
        var items: [Chunk]
        var outputs: [String: Output]
    }

    func chunks(_ request: Request, _ context: APIContext) async throws -> Response {
        let job = try await job(context)
        let base = base(request)
        let expires = Date().addingTimeInterval(settings.urlLifetime.seconds)
        var items: [ChunkPage.Chunk] = []
        for chunk in try await database.tenant(job.key.namespace).chunks(ofJob: job.uid) {
            items.append(
                ChunkPage.Chunk(
                    index: chunk.index, start: chunk.startSeconds, duration: chunk.durationSeconds, bytes: chunk.bytes,
                    sha256: chunk.sha256, analysis: try chunk.analysis.map(Self.summary),
                    analyzedAt: chunk.analyzedAt,
                    url: try await files.url(for: chunk.storageKey, expires: expires, base: base),
                    expiresAt: expires))
        }
        var outputs: [String: ChunkPage.Output] = [:]
        let status = try job.videoJob().status?.outputs
        for (name, uri) in [
            ("timeline", status?.timeline), ("otio", status?.otio), ("edl", status?.edl), ("render", status?.render),
        ] {
            guard let uri else { continue }
            if let key = files.key(of: uri) {
                outputs[name] = .init(
                    uri: uri, url: try await files.url(for: key, expires: expires, base: base), expiresAt: expires)
            } else {
                outputs[name] = .init(uri: uri, url: nil, expiresAt: nil)
            }
        }
        return try JSONBody.response(ChunkPage(items: items, outputs: outputs))
    }

    /// What the chunk list shows of an analysis: `{analyzer, model, summary, scenes}` (the number of scenes).
    static func summary(_ analysis: JSONDocument) throws -> JSONValue {
        guard case .object(let fields) = try analysis.decode(JSONValue.self) else { return .null }
        var scenes = 0
        if case .array(let items)? = fields["scenes"] { scenes = items.count }
        return .object([
            "analyzer": fields["analyzer"] ?? .null, "model": fields["model"] ?? .null,
            "summary": fields["summary"] ?? .null, "scenes": .int(scenes),
        ])
    }

    /// A query integer within `range` (400 otherwise).
    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIFailure.badRequest("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// An opaque `continue` token: where the last page ended.
struct ContinueToken {
    struct Position: Comparable {
        var time: Double
        var uid: String
        static func < (a: Position, b: Position) -> Bool { (a.time, b.uid) < (b.time, a.uid) }
    }
    var position: Position

    init(position: Position) { self.position = position }

    init?(_ text: String) {
        guard let data = Base64URL.decode(text), let plain = String(data: data, encoding: .utf8) else { return nil }
        let parts = plain.split(separator: "|", maxSplits: 1)
        guard parts.count == 2, let time = Double(parts[0]) else { return nil }
        position = Position(time: time, uid: String(parts[1]))
    }

    var text: String { Base64URL.encode(Data("\(position.time)|\(position.uid)".utf8)) }
}
