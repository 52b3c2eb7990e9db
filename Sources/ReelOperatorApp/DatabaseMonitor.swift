import Logging
import ReelHealth
import ReelStore
import ReelSupport
import ServiceLifecycle
import Synchronization
import ReelProcess

/// Watches the database while a process runs: a ping every `interval`, the answer kept for `/readyz` (not ready
/// while PostgreSQL does not answer), and a line in the log when it goes away and when it is back. The pools
/// reconnect by themselves; this only tells. With `migrate`, it first waits for the server and migrates (up to
/// `ReelApplication.databasePatience`), so that a process can serve `/healthz` and an unready `/readyz` while
/// PostgreSQL is not there yet; what needs the tables waits in `untilMigrated()`.
package final class DatabaseMonitor: Service, Sendable {
    let database: Database
    let interval: Duration
    let logger: Logger
    private let state: Mutex<(reachable: Bool, reason: String)>
    private let migrated: Mutex<Bool>
    private let migratedSignal = WakeSignal()

    package init(database: Database, migrate: Bool = false, interval: Duration = .seconds(2), logger: Logger) {
        self.database = database
        self.interval = interval
        self.logger = logger
        state = Mutex(migrate ? (false, "waiting for PostgreSQL to take connections") : (true, ""))
        migrated = Mutex(!migrate)
    }

    /// Returns once the database is migrated (at once unless this monitor migrates), or throws when cancelled.
    package func untilMigrated() async throws {
        while true {
            let generation = migratedSignal.generation
            if migrated.withLock({ $0 }) { return }
            await migratedSignal.wait(after: generation, timeout: .seconds(60))
            try Task.checkCancellation()
        }
    }

    /// Not ready while the last ping failed, with its reason.
    package var readiness: Readiness {
        let (reachable, reason) = state.withLock { $0 }
        return reachable
            ? Readiness(ready: true, detail: "ok")
            : Readiness(ready: false, detail: "PostgreSQL unreachable: \(reason)")
    }

    package func run() async throws {
        if !migrated.withLock({ $0 }) {
            try await cancelWhenGracefulShutdown {
                try await Database.migrate(
                    url: self.database.url, logger: self.logger, patience: ReelApplication.databasePatience)
            }
            migrated.withLock { $0 = true }
            migratedSignal.signal()
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await check()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            } catch {
                return
            }
        }
    }

    /// Pings once and records the answer.
    func check() async {
        do {
            try await database.ping()
            let was = state.withLock { old in
                defer { old = (true, "") }
                return old.reachable
            }
            if !was { logger.notice("PostgreSQL answers again") }
        } catch {
            let reason = "\(error)"
            let was = state.withLock { old in
                defer { old = (false, reason) }
                return old.reachable
            }
            if was {
                logger.warning(
                    "PostgreSQL does not answer; not ready until it does", metadata: ["reel.error": "\(reason)"])
            }
        }
    }
}

extension Readiness {
    /// Ready when both are, saying what `other` says then (its detail is the more specific: "ok: standing by");
    /// this one's reason when it is not ready, `other`'s when only that is not.
    package func and(_ other: Readiness) -> Readiness {
        guard ready else { return self }
        return other
    }
}

/// A service that runs once `before` has returned: what needs the database's tables, after the monitor has
/// migrated them.
package struct Preceded: Service {
    let before: @Sendable () async throws -> Void
    let service: any Service

    package init(before: @escaping @Sendable () async throws -> Void, service: any Service) {
        self.before = before
        self.service = service
    }

    package func run() async throws {
        try await cancelWhenGracefulShutdown { try await before() }
        guard !Task.isShuttingDownGracefully else { return }
        try await service.run()
    }
}
