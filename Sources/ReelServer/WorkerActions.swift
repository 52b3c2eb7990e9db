import Foundation
import Hummingbird
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// `POST /api/workers` (admins): `{"action":"scale","pool":P,"minReplicas":m,"maxReplicas":M}` edits the
/// WorkerPool `P` of the caller's namespace — declaring it when `P` was a default pool (one per stage, named
/// after it) — and the autoscaler sizes it from there; `{"action":"drain","worker":ID}` makes that worker stop
/// claiming, finish its tasks and exit (it notices on its next heartbeat, within ten seconds).
extension APIHandlers {
    struct WorkerAction: Decodable {
        var action: String
        var pool: String?
        var minReplicas: Int?
        var maxReplicas: Int?
        var worker: String?
    }

    func registerWorkerActions(_ api: RouterGroup<APIContext>) {
        api.post("workers") { request, context in try await workerAction(request, context) }
    }

    func workerAction(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.require(.admin)
        let action: WorkerAction
        do {
            action = try JSONDecoder().decode(WorkerAction.self, from: try await Self.body(request, context))
        } catch let failure as APIFailure {
            throw failure
        } catch {
            throw APIFailure.badRequest("the body must be {\"action\":\"scale\"|\"drain\", …}: \(error)")
        }
        switch action.action {
        case "scale":
            return try JSONBody.response(try await scale(action, namespace: token.namespace).workerPool())
        case "drain":
            guard let worker = action.worker, !worker.isEmpty else {
                throw APIFailure.badRequest("drain names a worker: {\"action\":\"drain\",\"worker\":ID}")
            }
            guard try await database.tenant(token.namespace).requestDrain(worker: worker) else {
                throw APIFailure.notFound("worker \(worker)")
            }
            let status = APIStatus.success("worker \(worker) will drain and exit", reason: "Draining", code: 202)
            return try JSONBody.response(status, status: .accepted)
        default:
            throw APIFailure.badRequest("action must be scale or drain, not \"\(action.action)\"")
        }
    }

    private func scale(_ action: WorkerAction, namespace: String) async throws -> StoredResource {
        guard let name = action.pool, !name.isEmpty else {
            throw APIFailure.badRequest("scale names a pool: {\"action\":\"scale\",\"pool\":P,…}")
        }
        let key = ResourceKey(kind: WorkerPool.names.kind, namespace: namespace, name: name)
        let existing = try await writer(namespace).get(key)
        var spec: [String: JSONValue]
        if let existing {
            try Self.refuseFileDeclared(existing, "scale")
            guard case .object(let fields) = try existing.spec.decode(JSONValue.self) else {
                throw APIFailure.notFound("WorkerPool \(name)")
            }
            spec = fields
        } else if let stage = Stage(rawValue: name) {
            spec = ["stages": [.string(stage.rawValue)]]
        } else {
            throw APIFailure.notFound("WorkerPool \(name) (nor a stage's default pool)")
        }
        if let minimum = action.minReplicas { spec["minReplicas"] = .int(minimum) }
        if let maximum = action.maxReplicas { spec["maxReplicas"] = .int(maximum) }
        let object: JSONValue = [
            "apiVersion": .string(API.version), "kind": .string(WorkerPool.names.kind),
            "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": .object(spec),
        ]
        let pool: WorkerPool
        switch ResourceDecoder.decode(json: object) {
        case .resource(.workerPool(let decoded)): pool = decoded
        case .invalid(let problems): throw APIFailure.invalid(WorkerPool.names.kind, name, problems)
        default: throw APIFailure.badRequest("not a WorkerPool")
        }
        let resource = NewResource(
            key: key, labels: existing?.labels ?? [:], annotations: existing?.annotations ?? [:],
            spec: try JSONDocument(encoding: pool.spec))
        return try await writing {
            existing == nil
                ? try await writer(namespace).create(resource)
                : try await writer(namespace).update(resource, expectedVersion: existing?.resourceVersion)
        }
    }
}
