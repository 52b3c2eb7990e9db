import CPostgres
import FoundationEssentials
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A notification delivered by `NOTIFY`.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32
}

/// What a listener reports.
public enum PostgresListenerEvent: Sendable, Equatable {
    /// Listening (first connection, or again after the connection dropped). Notifications sent while the
    /// connection was down are lost: a consumer should look at the tables again on `.listening`.
    case listening(reconnected: Bool)
    /// A notification.
    case notification(PostgresNotification)
}

/// `LISTEN` on a connection of its own, on a thread of its own (blocking `poll` on the socket, never Swift's
/// cooperative threads). Reconnects with backoff when the connection drops and listens again.
public final class PostgresListener: Sendable {
    /// The events, until `stop()` or until the consumer stops iterating.
    public let events: AsyncStream<PostgresListenerEvent>
    private let stopped = StopSignal()

    /// Starts listening on `channels` (lower-case identifiers) of the server at `url`.
    public init(url: String, channels: [String]) throws(PostgresError) {
        for channel in channels where !Self.isIdentifier(channel) {
            throw PostgresError(.syntaxOrAccess, "channel \"\(channel)\" must be a lower-case SQL identifier")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: PostgresListenerEvent.self, bufferingPolicy: .unbounded)
        events = stream
        let stopped = self.stopped
        continuation.onTermination = { _ in stopped.set() }
        startThread(name: "reel.postgres.listener") {
            Self.loop(url: url, channels: channels, stopped: stopped, continuation: continuation)
        }
    }

    deinit { stop() }

    /// Stops listening and ends `events`.
    public func stop() { stopped.set() }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
        return name.count <= 63
            && name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    private static func loop(
        url: String, channels: [String], stopped: StopSignal,
        continuation: AsyncStream<PostgresListenerEvent>.Continuation
    ) {
        let backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        var failures = 0
        var reconnected = false
        while !stopped.isSet {
            guard let handle = listen(url: url, channels: channels) else {
                failures += 1
                _ = stopped.sleep(for: backoff.delay(after: failures))
                reconnected = true
                continue
            }
            failures = 0
            continuation.yield(.listening(reconnected: reconnected))
            reconnected = true
            pump(handle, stopped: stopped, continuation: continuation)
            PQfinish(handle)
        }
        continuation.finish()
    }

    private static func listen(url: String, channels: [String]) -> OpaquePointer? {
        guard let handle = PQconnectdb(url) else { return nil }
        guard PQstatus(handle) == CONNECTION_OK else {
            PQfinish(handle)
            return nil
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        // Channel names were checked to be plain identifiers, so quoting them is enough.
        let sql = channels.map { "LISTEN \"\($0)\"" }.joined(separator: "; ")
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            PQfinish(handle)
            return nil
        }
        return handle
    }

    /// Delivers notifications until the connection fails or the listener stops.
    private static func pump(
        _ handle: OpaquePointer, stopped: StopSignal, continuation: AsyncStream<PostgresListenerEvent>.Continuation
    ) {
        let socket = PQsocket(handle)
        while !stopped.isSet {
            if stopped.wait(readable: socket) {
                guard PQconsumeInput(handle) == 1 else { return }
                while let notify = PQnotifies(handle) {
                    let n = notify.pointee
                    continuation.yield(
                        .notification(
                            PostgresNotification(
                                channel: String(cString: n.relname), payload: String(cString: n.extra),
                                senderPID: n.be_pid)))
                    PQfreemem(notify)
                }
            }
            if PQstatus(handle) != CONNECTION_OK { return }
        }
    }
}
