import Foundation
import Hummingbird
import ReelAPI
import ReelAnalysis
import ReelStore
import ReelSupport

/// `GET /api/jobs/{job}/analysis` (the scenes, cuts and cost of every chunk, times from the source's start) and
/// `GET /api/queue/history` (the queue every step over the last minutes): what the dashboard's scene strip, cost
/// ledger and queue chart draw.
extension APIHandlers {
    func registerAnalysis(_ api: RouterGroup<APIContext>) {
        for path in ["jobs/:job/analysis", "jobs/:job/:name/analysis"] {
            api.get(RouterPath(path)) { _, context in try await analysis(context) }
        }
        api.get("queue/history") { request, context in try await queueHistory(request, context) }
    }

    /// A job's analysis: the source's scenes (chunk boundaries joined as the timeline joins them), the cuts
    /// between them, and each chunk's analyzer, summary and cost.
    struct AnalysisBody: Encodable {
        struct Scene: Encodable {
            var start: Double
            var end: Double
            var importance: Double
            var description: String
            var labels: [String]
        }
        struct Chunk: Encodable {
            var index: Int
            var start: Double
            var duration: Double
            var analyzer: String?
            var model: String?
            var summary: String?
            var analyzedAt: Date?
            var scenes: Int
            var usage: JobUsage
        }
        var job: String
        /// The source's length in seconds, once ingest probed it.
        var duration: Double?
        var chunks: [Chunk] = []
        var scenes: [Scene] = []
        /// Where one scene ends and the next begins, seconds from the source's start.
        var cuts: [Double] = []
        var usage = JobUsage()
        /// Whether every chunk is analyzed (the scenes are then final).
        var complete = true
    }

    func analysis(_ context: APIContext) async throws -> Response {
        let stored = try await job(context)
        let tenant = database.tenant(stored.key.namespace)
        var body = AnalysisBody(job: stored.uid, duration: try await tenant.source(ofJob: stored.uid)?.duration)
        var analyzed: [(start: Double, analysis: ChunkAnalysis)] = []
        for row in try await tenant.chunks(ofJob: stored.uid) {
            // Stored analyses are absolute; the joining shifts relative ones.
            let analysis = try row.analysis?.decode(ChunkAnalysis.self)
            if let analysis { analyzed.append((row.startSeconds, analysis.shifted(by: -row.startSeconds))) }
            body.complete = body.complete && analysis != nil
            let usage = JobUsage(promptTokens: row.promptTokens, outputTokens: row.outputTokens, requests: row.requests)
            body.chunks.append(
                .init(
                    index: row.index, start: row.startSeconds, duration: row.durationSeconds,
                    analyzer: analysis?.analyzer, model: analysis?.model, summary: analysis?.summary,
                    analyzedAt: row.analyzedAt, scenes: analysis?.scenes.count ?? 0, usage: usage))
            body.usage.promptTokens += usage.promptTokens
            body.usage.outputTokens += usage.outputTokens
            body.usage.requests += usage.requests
        }
        let scenes = SceneJoining.scenes(analyzed)
        body.scenes = scenes.map {
            .init(
                start: $0.start, end: $0.end, importance: $0.importance, description: $0.description, labels: $0.labels)
        }
        body.cuts = zip(scenes, scenes.dropFirst()).filter { abs($0.end - $1.start) < 0.1 }.map { $1.start }
        return try JSONBody.response(body)
    }

    /// The queue over the last `minutes` (1–60, default 15), a point every `step` seconds (5–600, default 30).
    struct HistoryBody: Encodable {
        struct Point: Encodable {
            var time: Date
            var stages: [String: [String: Int]]
        }
        var step: Int
        var points: [Point]
    }

    func queueHistory(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.caller()
        let query = Query(request)
        let minutes = try Self.integer(query.raw("minutes"), name: "minutes", default: 15, range: 1...60)
        let step = try Self.integer(query.raw("step"), name: "step", default: 30, range: 5...600)
        let samples = try await database.tenant(token.namespace).queueHistory(
            window: .seconds(minutes * 60), step: .seconds(step))
        return try JSONBody.response(
            HistoryBody(
                step: step,
                points: samples.map { sample in
                    .init(
                        time: sample.time,
                        stages: sample.stages.mapValues {
                            ["waiting": $0.waiting, "running": $0.running, "completed": $0.completed]
                        })
                }))
    }
}

extension OpenAPIDocument {
    static var analysisPaths: [String: JSONValue] {
        let answers: [String: JSONValue] = [
            "200": response("The scenes, cuts and cost of every chunk", ["type": "object"]), "404": status,
        ]
        var paths: [String: JSONValue] = [:]
        for (path, parameters) in jobPaths {
            paths[path + "/analysis"] = [
                "parameters": .array(parameters),
                "get": operation(
                    "jobAnalysis" + suffix(path), "The job's analysis: scenes, cuts and tokens per chunk",
                    responses: answers),
            ]
        }
        paths["/api/queue/history"] = [
            "get": operation(
                "queueHistory", "The namespace's queue over the last minutes, per stage",
                parameters: [
                    parameter("minutes", "How far back", integer(1, 60)),
                    parameter("step", "Seconds between points", integer(5, 600)),
                ],
                responses: ["200": response("Points, oldest first", ["type": "object"]), "400": status])
        ]
        return paths
    }
}
