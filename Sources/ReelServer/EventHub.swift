import Foundation
import Logging
import ReelStore
import ReelSupport
import ServiceLifecycle

/// What an event stream carries.
enum StreamItem: Sendable {
    case event(FeedEvent)
    /// A queue-stats tick (not resumable: it has no id).
    case stats(String)
    case heartbeat
}

/// Fans the event feed out to every open `/api/events` stream from one `LISTEN` connection: on each
/// `NOTIFY reel_events 'NAMESPACE ID'`, the tenant's new events are read once (as that tenant, under row-level
/// security) and handed to its subscribers. A subscriber that falls too far behind is closed; it resumes with
/// `Last-Event-ID` and misses nothing, because every event is in the table.
actor EventHub {
    struct Subscriber {
        var continuation: AsyncStream<StreamItem>.Continuation
    }

    let database: APIDatabase
    let logger: Logger
    let heartbeat: Duration
    let statsInterval: Duration
    private var subscribers: [String: [UUID: Subscriber]] = [:]
    /// Per tenant with subscribers: the newest event id read and handed out.
    private var delivered: [String: Int64] = [:]
    /// Events a subscriber may have waiting before it is closed.
    static let buffer = 4096

    init(database: APIDatabase, heartbeat: Duration, statsInterval: Duration, logger: Logger) {
        self.database = database
        self.heartbeat = heartbeat
        self.statsInterval = statsInterval
        self.logger = logger
    }

    /// Subscribes to `namespace`; the stream delivers every event after the returned id.
    func subscribe(_ namespace: String) async throws -> (id: UUID, from: Int64, stream: AsyncStream<StreamItem>) {
        if delivered[namespace] == nil {
            delivered[namespace] = try await database.tenant(namespace).lastEventID()
        }
        let id = UUID()
        let (stream, continuation) = AsyncStream<StreamItem>.makeStream(bufferingPolicy: .bufferingOldest(Self.buffer))
        subscribers[namespace, default: [:]][id] = Subscriber(continuation: continuation)
        continuation.onTermination = { _ in Task { await self.unsubscribe(namespace, id) } }
        return (id, delivered[namespace]!, stream)
    }

    func unsubscribe(_ namespace: String, _ id: UUID) {
        subscribers[namespace]?[id] = nil
        if subscribers[namespace]?.isEmpty == true {
            subscribers[namespace] = nil
            delivered[namespace] = nil
        }
    }

    /// Reads `namespace`'s new events and hands them out.
    func fetch(_ namespace: String, upTo id: Int64 = .max) async {
        guard var last = delivered[namespace], last < id else { return }
        do {
            while true {
                let events = try await database.tenant(namespace).events(after: last, limit: 1000)
                for event in events { send(namespace, .event(event)) }
                last = events.last?.id ?? last
                delivered[namespace] = last
                if events.count < 1000 { break }
            }
        } catch {
            logger.warning("cannot read the events of \(namespace): \(error)")
        }
    }

    private func send(_ namespace: String, _ item: StreamItem) {
        for (id, subscriber) in subscribers[namespace] ?? [:] {
            if case .dropped = subscriber.continuation.yield(item) {
                logger.info("an event stream of \(namespace) fell \(Self.buffer) events behind; closing it")
                subscriber.continuation.finish()
                subscribers[namespace]?[id] = nil
            }
        }
    }

    private func tick(heartbeatDue: Bool, statsDue: Bool) async {
        for namespace in subscribers.keys {
            if statsDue, let stats = try? await QueueStatsBody.text(database.tenant(namespace)) {
                send(namespace, .stats(stats))
            }
            if heartbeatDue { send(namespace, .heartbeat) }
        }
    }

    private func fetchAll() async {
        for namespace in subscribers.keys { await fetch(namespace) }
    }

    private func closeAll() {
        for subscriber in subscribers.values.flatMap(\.values) { subscriber.continuation.finish() }
        subscribers = [:]
        delivered = [:]
    }

    /// Listens until cancelled or shut down; then ends every stream.
    nonisolated func run() async throws {
        let feed = try database.listen([EventLog.channel])
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await event in feed.events {
                    switch event {
                    case .listening: await self.fetchAll()
                    case .notification(_, let payload):
                        let parts = payload.split(separator: " ")
                        if parts.count == 2, let id = Int64(parts[1]) { await self.fetch(String(parts[0]), upTo: id) }
                    }
                }
            }
            group.addTask {
                var lastHeartbeat = ContinuousClock.now
                var lastStats = ContinuousClock.now
                let step = min(self.heartbeat, self.statsInterval)
                while !Task.isCancelled {
                    try? await Task.sleep(for: step)
                    let now = ContinuousClock.now
                    let heartbeatDue = now - lastHeartbeat >= self.heartbeat
                    let statsDue = now - lastStats >= self.statsInterval
                    if heartbeatDue { lastHeartbeat = now }
                    if statsDue { lastStats = now }
                    await self.tick(heartbeatDue: heartbeatDue, statsDue: statsDue)
                }
            }
            try? await gracefulShutdown()
            feed.stop()
            await self.closeAll()
            group.cancelAll()
        }
    }
}
