import FoundationEssentials
import Logging
import ReelCore
import ReelPostgres

/// A Reel database: where it is and the connections the repositories share. Only this module speaks SQL; the
/// rest of Reel reaches the tables through the repositories a `Database` hands out.
public struct Database: Sendable {
    /// The connection string (`key=value` or `postgres://`).
    public let url: String
    let pool: PostgresPool

    /// A pool of at most `maxConnections` connections to `url`.
    public init(url: String, maxConnections: Int) {
        self.init(pool: PostgresPool(url: url, maxConnections: maxConnections), url: url)
    }

    /// Over a pool the caller made (tests).
    public init(pool: PostgresPool, url: String) {
        self.pool = pool
        self.url = url
    }

    /// Applies the migrations not applied yet; returns the versions applied.
    @discardableResult
    public static func migrate(url: String, logger: Logger) async throws -> [Int] {
        let connection = try await PostgresConnection.connect(url)
        do {
            let applied = try await Migrator.migrate(connection, logger: logger)
            await connection.close()
            return applied
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Closes the pool's connections.
    public func close() async { await pool.close() }

    public var jobs: JobStore { JobStore(pool: pool) }
    public var chunks: ChunkStore { ChunkStore(pool: pool) }
    public var outputClaims: OutputClaims { OutputClaims(pool: pool) }
    public var logs: LogStore { LogStore(pool: pool) }
    public var resources: ResourceTable { ResourceTable(pool: pool) }
    public var workers: WorkerRegistry { WorkerRegistry(pool: pool) }
    public var rateLimits: RateLimitLedger { RateLimitLedger(pool: pool) }

    /// The task queue, running at most `maxConcurrentClaims` claim statements at once.
    public func queue(maxConcurrentClaims: Int = 3) -> TaskQueue {
        TaskQueue(pool: pool, maxConcurrentClaims: maxConcurrentClaims)
    }

    /// `LISTEN` on `channels` (`TaskQueue.queueChannel`, `TaskQueue.jobsChannel`) on a connection of its own.
    public func listen(_ channels: [String]) throws -> ChangeFeed {
        ChangeFeed(listener: try PostgresListener(url: url, channels: channels))
    }

    /// The version of libpq this build runs on.
    public static var libraryVersion: String { PostgresConnection.libraryVersion }

    /// Whether `error` came from the database (a stage retries those).
    public static func isDatabaseError(_ error: any Error) -> Bool { error is PostgresError }

    /// Whether `error` is a statement that ran past its time limit (or was cancelled).
    public static func isTimeout(_ error: any Error) -> Bool { (error as? PostgresError)?.code == .queryCanceled }
}

/// What a `ChangeFeed` reports.
public enum ChangeEvent: Sendable, Equatable {
    /// Listening (again): whatever was sent while the connection was down is lost, so look at the tables again.
    case listening
    /// A `NOTIFY` on `channel`.
    case notification(channel: String, payload: String)
}

/// `NOTIFY`s as they arrive, until `stop()`.
public struct ChangeFeed: Sendable {
    let listener: PostgresListener

    public var events: some AsyncSequence<ChangeEvent, Never> & Sendable {
        listener.events.map { event in
            switch event {
            case .listening: .listening
            case .notification(let note): .notification(channel: note.channel, payload: note.payload)
            }
        }
    }

    public func stop() { listener.stop() }
}
