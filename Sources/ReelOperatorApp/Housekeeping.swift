import Logging
import ReelStorage
import ReelStore
import ServiceLifecycle

/// The API's housekeeping, at start and every 10 minutes: events older than the retention window go (the feed
/// behind `/api/events` would grow without end), and so do incomplete uploads past their expiry, bytes first.
package struct APIHousekeeping: Service {
    let database: Database
    let store: any ObjectStore
    var retention: Duration = .seconds(86400)
    var interval: Duration = .seconds(600)
    let logger: Logger

    package init(database: Database, store: any ObjectStore, logger: Logger) {
        self.database = database
        self.store = store
        self.logger = logger
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let pruned = try await database.events.prune(olderThan: retention)
                if pruned > 0 { logger.debug("pruned \(pruned) old event(s)") }
            } catch {
                logger.warning("cannot prune old events: \(error)")
            }
            do {
                let removed = try await UploadExpiry.remove(database, store: store)
                if removed > 0 { logger.info("removed \(removed) expired incomplete upload(s)") }
            } catch {
                logger.warning("cannot remove expired uploads: \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}

/// The end of abandoned uploads.
public enum UploadExpiry {
    /// Removes the incomplete uploads past their expiry (and not being written): their bytes, then their rows.
    /// Returns how many.
    public static func remove(_ database: Database, store: any ObjectStore) async throws -> Int {
        guard let store = store as? any PartialObjectStore else { return 0 }
        var removed = 0
        for upload in try await database.uploads.expired() {
            try await store.abortPartial(upload.objectKey, state: try upload.partial.decode(PartialState.self))
            try await database.uploads.delete(upload.id)
            removed += 1
        }
        return removed
    }
}
