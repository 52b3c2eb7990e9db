import Foundation
import Hummingbird
import ReelAPI
import ReelStore
import ReelSupport

/// `GET /api/events`: Server-Sent Events of the caller's namespace — `job.added`, `job.changed`, `job.deleted`,
/// `log`, and `queue.stats` ticks — filtered by `job` (uid) and `types` (comma-separated; `job` means every
/// `job.*`). Each event's `id:` is its row in the events table: `Last-Event-ID` (or `lastEventId`) resumes after
/// it without loss within the retention window. Comment lines every heartbeat keep proxies from closing idle
/// streams.
extension APIHandlers {
    func registerEvents(_ api: RouterGroup<APIContext>) {
        api.get("events") { request, context in try await events(request, context) }
    }

    struct EventFilter: Sendable {
        var job: String?
        var types: Set<String>?

        func admits(type: String, job uid: String?) -> Bool {
            if let job, uid != job { return false }
            guard let types else { return true }
            return types.contains(type) || types.contains(String(type.prefix { $0 != "." }))
        }
    }

    func events(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.caller()
        let query = Query(request)
        let filter = EventFilter(
            job: query["job"],
            types: query["types"].map {
                Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
            })
        var resume: Int64?
        if let text = request.headers[.lastEventID] ?? query.raw("lastEventId") {
            guard let id = Int64(text.trimmingCharacters(in: .whitespaces)), id >= 0 else {
                throw APIFailure.badRequest("Last-Event-ID must be an event id")
            }
            resume = id
        }
        let tenant = database.tenant(token.namespace)
        let resumeAfter = resume
        let subscription = try await hub.subscribe(token.namespace)
        let hub = self.hub
        let namespace = token.namespace
        let body = ResponseBody { writer in
            var last = resumeAfter ?? subscription.from
            do {
                try await writer.write(ByteBuffer(string: "retry: 2000\n: reel events for \(namespace)\n\n"))
                // Catch up from the table, then go live; ids already sent are skipped.
                if resumeAfter != nil {
                    while last < subscription.from {
                        let missed = try await tenant.events(after: last, limit: 1000).filter {
                            $0.id <= subscription.from
                        }
                        if missed.isEmpty { break }
                        for event in missed where filter.admits(type: event.type, job: event.jobUID) {
                            try await writer.write(ByteBuffer(string: Self.frame(event)))
                        }
                        last = missed.last!.id
                    }
                    last = max(last, subscription.from)
                }
                for await item in subscription.stream {
                    switch item {
                    case .event(let event):
                        guard event.id > last else { continue }
                        last = event.id
                        if filter.admits(type: event.type, job: event.jobUID) {
                            try await writer.write(ByteBuffer(string: Self.frame(event)))
                        }
                    case .stats(let stats):
                        if filter.job == nil, filter.admits(type: "queue.stats", job: nil) {
                            try await writer.write(ByteBuffer(string: "event: queue.stats\ndata: \(stats)\n\n"))
                        }
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    }
                }
            } catch {
                // The client went away.
            }
            await hub.unsubscribe(namespace, subscription.id)
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
                .init("X-Accel-Buffering")!: "no",
            ], body: body)
    }

    /// One SSE frame: `id`, `event` and the event's JSON (`{"id","type","time","job","data"}`) on one line.
    static func frame(_ event: FeedEvent) -> String {
        let time = "\"\(Timestamp(event.time))\""
        let job = event.jobUID.map { "\"\($0)\"" } ?? "null"
        return "id: \(event.id)\nevent: \(event.type)\ndata: "
            + "{\"id\":\(event.id),\"type\":\"\(event.type)\",\"time\":\(time),\"job\":\(job),"
            + "\"data\":\(event.data.text)}\n\n"
    }
}
