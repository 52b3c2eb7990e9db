import Foundation
import Hummingbird
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// The queue as `GET /api/queue/stats` and the event stream's ticks show it.
struct QueueStatsBody: Encodable {
    struct Completed: Encodable {
        var lastMinute: Int
        var last5Minutes: Int
        var last15Minutes: Int
    }
    /// stage → state → tasks.
    var stages: [String: [String: Int]]
    /// Waiting tasks by priority name.
    var readyByPriority: [String: Int]
    var oldestReadySeconds: [String: Double]
    var completed: Completed

    init(_ overview: QueueOverview) {
        stages = overview.counts
        let names = ["urgent", "high", "normal", "low"]
        readyByPriority = Dictionary(
            uniqueKeysWithValues: overview.readyByPriority.map {
                (names.indices.contains($0) ? names[$0] : "\($0)", $1)
            })
        oldestReadySeconds = overview.oldestReadySeconds
        completed = Completed(
            lastMinute: overview.completed.one, last5Minutes: overview.completed.five,
            last15Minutes: overview.completed.fifteen)
    }

    /// The tenant's queue statistics as one line of JSON.
    static func text(_ tenant: TenantStore) async throws -> String {
        String(decoding: try JSONBody.encoder.encode(QueueStatsBody(try await tenant.queueOverview())), as: UTF8.self)
    }
}

/// The caller's token as `GET /api/whoami` shows it (what the dashboard may offer).
struct WhoAmI: Encodable {
    var name: String
    var namespace: String
    /// viewer, editor or admin.
    var role: String
    var expiresAt: Date?
}

/// A worker as `GET /api/workers` shows it.
struct WorkerBody: Encodable {
    var id: String
    var pool: String?
    var stages: [String]
    /// `process` locally, `pod` in a cluster (the hostname is then the pod's name).
    var kind: String
    var hostname: String
    var pid: Int
    /// running, draining, stopped, or lost (no heartbeat for a minute).
    var state: String
    var startedAt: Date
    var lastHeartbeat: Date
    var tasksCompleted: Int64
    var tasksFailed: Int64
    var currentTasks: JSONValue
}

/// Health, queue statistics, workers, audit, and the OpenAPI document.
extension APIHandlers {
    func registerHealth(_ router: Router<APIContext>) {
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let state = readiness()
            return Response(
                status: state.ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: state.detail + "\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("api/openapi.json") { _, _ -> Response in
            JSONBody.response(text: OpenAPIDocument.text)
        }
    }

    func registerOperations(_ api: RouterGroup<APIContext>) {
        api.get("whoami") { _, context -> Response in
            let token = try context.caller()
            return try JSONBody.response(
                WhoAmI(
                    name: token.name, namespace: token.namespace, role: token.role.rawValue, expiresAt: token.expiresAt)
            )
        }
        api.get("queue/stats") { _, context -> Response in
            let token = try context.caller()
            return JSONBody.response(text: try await QueueStatsBody.text(database.tenant(token.namespace)))
        }
        api.get("workers") { _, context -> Response in
            let token = try context.caller()
            let rows = try await database.tenant(token.namespace).workers(stoppedFor: .seconds(600))
            let now = Date()
            let items = try rows.map { row in
                let state =
                    row.stoppedAt != nil
                    ? "stopped"
                    : row.drainingAt != nil
                        ? "draining" : now.timeIntervalSince(row.heartbeatAt) > 60 ? "lost" : "running"
                return WorkerBody(
                    id: row.id, pool: row.pool, stages: row.stages,
                    kind: ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] == nil ? "process" : "pod",
                    hostname: row.hostname, pid: row.pid, state: state, startedAt: row.startedAt,
                    lastHeartbeat: row.heartbeatAt, tasksCompleted: row.completed, tasksFailed: row.failed,
                    currentTasks: try row.current.decode(JSONValue.self))
            }
            return try JSONBody.response(["items": items])
        }
        api.get("audit") { request, context -> Response in
            let token = try context.require(.admin)
            let query = Query(request)
            let limit = try Self.integer(query.raw("limit"), name: "limit", default: 100, range: 1...1000)
            let after = try Self.integer(query.raw("after"), name: "after", default: 0, range: 0...Int.max)
            let entries = try await database.tenant(token.namespace).audit(after: Int64(after), limit: limit)
            return try JSONBody.response(["items": entries])
        }
    }
}
