import FoundationEssentials
import Logging
import ReelStorage
import ReelStore
import Synchronization

/// What one task run wrote to storage (the store, an output directory or bucket), key by key. Database writes
/// are fenced by the task's lease; storage writes cannot be. So a worker whose job was deleted while it worked
/// (the cleanup has already removed the job's objects and rows) removes what it wrote itself: otherwise an object
/// would appear after the cleanup and belong to no job.
public final class TaskWrites: Sendable {
    private let written = Mutex<[(store: any ObjectStore, key: String)]>([])

    public init() {}

    /// How many objects were written (or begun: a write cancelled half-way leaves nothing, and removing nothing is
    /// harmless).
    public var count: Int { written.withLock { $0.count } }

    func record(_ store: any ObjectStore, _ key: String) {
        written.withLock { $0.append((store, key)) }
    }

    /// Removes every object recorded; returns how many were removed.
    func removeAll(logger: Logger) async -> Int {
        let all = written.withLock { list in
            defer { list.removeAll() }
            return list
        }
        var removed = 0
        for (store, key) in all {
            do {
                if try await store.deleteObject(key) { removed += 1 }
            } catch {
                logger.warning("cannot remove \(store.uri(for: key)) written for a deleted job: \(error)")
            }
        }
        return removed
    }
}

/// A store that tells `beforeWrite` the key of every write before passing it to `base`: how a task's writes are
/// recorded in its `TaskWrites` (and how a test holds a write back).
struct WatchedStore: ObjectStore {
    let base: any ObjectStore
    let beforeWrite: @Sendable (String) async -> Void

    var baseURI: String { base.baseURI }
    func uri(for key: String) -> String { base.uri(for: key) }

    func put(_ key: String, fromFile path: String) async throws -> StoredObject {
        await beforeWrite(key)
        return try await base.put(key, fromFile: path)
    }

    func put(_ key: String, movingFile path: String) async throws -> StoredObject {
        await beforeWrite(key)
        return try await base.put(key, movingFile: path)
    }

    func put(_ key: String, data: Data) async throws -> StoredObject {
        await beforeWrite(key)
        return try await base.put(key, data: data)
    }

    func withLocalFile<T: Sendable>(_ key: String, _ body: (String) async throws -> T) async throws -> T {
        try await base.withLocalFile(key, body)
    }

    func head(_ key: String) async throws -> StoredObject? { try await base.head(key) }
    func delete(prefix: String) async throws -> Int { try await base.delete(prefix: prefix) }
    func list(prefix: String) async throws -> [String] { try await base.list(prefix: prefix) }
}

extension Pipeline {
    /// After a task lost its lease or could not be completed: when its job no longer exists (deleted, and cleaned
    /// up while the task ran), removes what the task wrote to storage and returns how many objects; a job that
    /// still exists keeps them (a rescued task writes the same keys again, and the job's own cleanup removes
    /// them).
    public func discardIfJobGone(_ task: ClaimedTask, _ writes: TaskWrites) async -> Int {
        guard writes.count > 0 else { return 0 }
        do {
            guard try await context.database.jobs.resource(ofJob: task.jobID) == nil else { return 0 }
        } catch {
            context.logger.warning("cannot tell whether job \(task.jobID) still exists: \(error)")
            return 0
        }
        let removed = await writes.removeAll(logger: context.logger)
        if removed > 0 {
            let stage = task.stageName
            context.logger.notice(
                "job deleted while its \(stage) task ran: removed the \(removed) object(s) the task had written",
                metadata: ["reel.job": "\(task.jobID)"])
        }
        return removed
    }
}
