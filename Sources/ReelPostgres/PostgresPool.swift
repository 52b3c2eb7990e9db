import FoundationEssentials

/// A bounded pool of connections. A caller waits (in order) when every connection is busy; a connection idle
/// longer than `healthCheckAfter` is checked before it is handed out; a statement that finds its connection
/// dropped (server restart, `pg_terminate_backend`) reconnects and, outside a transaction, runs once more.
public actor PostgresPool {
    /// How the pool behaves.
    public struct Configuration: Sendable {
        /// A `postgres://` URL or `key=value` connection string.
        public var url: String
        /// The most connections open at once.
        public var maxConnections: Int
        /// Idle time after which a connection is pinged before use.
        public var healthCheckAfter: Duration

        /// A pool of at most `maxConnections` (default 8) to `url`.
        public init(url: String, maxConnections: Int = 8, healthCheckAfter: Duration = .seconds(30)) {
            self.url = url
            self.maxConnections = max(1, maxConnections)
            self.healthCheckAfter = healthCheckAfter
        }
    }

    public let configuration: Configuration
    private var idle: [(connection: PostgresConnection, since: ContinuousClock.Instant)] = []
    private var open = 0
    /// Callers waiting for a connection; resumed with one, or with `nil` to try again (a slot was freed).
    private var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
    private var closed = false

    /// A pool with `configuration`; connections open on first use.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// A pool of at most `maxConnections` to `url`.
    public init(url: String, maxConnections: Int = 8) {
        self.init(Configuration(url: url, maxConnections: maxConnections))
    }

    /// Connections open now (idle and in use).
    public var openConnections: Int { open }

    private func acquire() async throws(PostgresError) -> PostgresConnection {
        while true {
            guard !closed else { throw PostgresError(.poolClosed, "the pool is closed") }
            if let entry = idle.popLast() {
                if entry.since.duration(to: .now) < configuration.healthCheckAfter { return entry.connection }
                if (try? await entry.connection.query("SELECT 1")) != nil { return entry.connection }
                if (try? await entry.connection.reconnect()) != nil { return entry.connection }
                dropped()
                continue
            }
            if open < configuration.maxConnections {
                open += 1
                do {
                    return try await PostgresConnection.connect(configuration.url)
                } catch let error as PostgresError {
                    dropped()
                    throw error
                } catch {
                    dropped()
                    throw PostgresError(.connectionFailed, "\(error)")
                }
            }
            if let connection = await withCheckedContinuation({ waiters.append($0) }) { return connection }
        }
    }

    /// A slot was freed: one waiter may now open a connection.
    private func dropped() {
        open -= 1
        if !waiters.isEmpty { waiters.removeFirst().resume(returning: nil) }
    }

    private func release(_ connection: PostgresConnection, broken: Bool) async {
        if broken || closed {
            await connection.close()
            dropped()
        } else if !waiters.isEmpty {
            waiters.removeFirst().resume(returning: connection)
        } else {
            idle.append((connection, .now))
        }
    }

    /// Runs `body` with a connection of its own, returned to the pool afterwards (closed if it broke).
    public func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws
        -> T
    {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            await release(connection, broken: false)
            return value
        } catch {
            let broken = (error as? PostgresError)?.code == .connectionLost
            await release(connection, broken: broken)
            throw error
        }
    }

    /// Runs one statement on a pooled connection. If the connection turns out to be dead, the statement runs
    /// once more on a fresh one: a statement the server never received is safe to send again.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresRows {
        try await retryingOnceIfDead { try await $0.query(sql, parameters) }
    }

    /// Runs one statement (`body`) on a pooled connection, and once more on a fresh one when the first turns out
    /// dead: what `query` and `copyIn` share.
    func retryingOnceIfDead<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await withConnection(body)
        } catch let error as PostgresError where error.code == .connectionLost {
            return try await withConnection(body)
        }
    }

    /// Runs `body` in a transaction on one pooled connection (never retried: the caller decides).
    public func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in try await connection.transaction(body) }
    }

    /// Closes idle connections, and the others as they come back; later calls fail with `poolClosed`.
    public func close() async {
        closed = true
        let connections = idle.map(\.connection)
        idle.removeAll()
        for connection in connections {
            await connection.close()
            open -= 1
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}
