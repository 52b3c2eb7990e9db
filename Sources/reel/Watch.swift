import Foundation
import ReelCore
import ReelStore

extension Get {
    /// Prints a row for every job event after `from` that this command's namespaces and name select, as they come.
    func follow(_ pool: Database, from: Int64, known rows: [StoredResource]) async throws {
        var known = Dictionary(rows.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
        // After "No videojobs found." the first row comes with the header the empty table did not print.
        var headed = !rows.isEmpty
        try await FeedFollower.follow(pool, from: from) { event in
            guard event.type.hasPrefix("job."), let uid = event.jobUID,
                options.allNamespaces || event.namespace == options.namespace
            else { return }
            var row = known[uid]
            if event.type != "job.deleted" {
                row = try await pool.resources.list(kind: kind.kind).first { $0.uid == uid }
            }
            guard let row, name == nil || row.key.name == name else { return }
            known[uid] = row
            let table = try Tables.render([row], kind: kind, wide: output == .wide, namespaces: options.allNamespaces)
                .split(separator: "\n")
            let line = table.dropFirst(headed ? 1 : 0).joined(separator: "\n")
            headed = true
            let text = event.type == "job.deleted" ? line + "   (deleted)" : line
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }
}

/// Follows the event feed (`events` and its `NOTIFY`), the one `/api/events` streams: hands each event after
/// `from` to `handle`, in order, until interrupted.
enum FeedFollower {
    static func follow(_ pool: Database, from: Int64, _ handle: (FeedEvent) async throws -> Void) async throws {
        let feed = try pool.listen([EventLog.channel])
        defer { feed.stop() }
        var last = from
        for await _ in feed.events {
            // Listening (again) or notified: read whatever is new; nothing is lost across reconnects.
            while true {
                let events = try await pool.events.after(last, limit: 500)
                for event in events { try await handle(event) }
                last = events.last?.id ?? last
                if events.count < 500 { break }
            }
        }
    }
}
