import Foundation
import ReelPostgres
import ReelHealth
import ReelStore
import ReelTestSupport
import Testing

@testable import ReelOperatorApp

/// PostgreSQL down at start, and gone then back while a process runs: the process waits instead of failing,
/// `/readyz` says why it is not ready, and it is ready again once the server answers.
@Suite(.serialized) struct DatabaseMonitorTests {
    /// A cluster of this test's own, initialized and stopped.
    static func stoppedServer(_ directory: TemporaryDirectory) async throws -> EmbeddedPostgres {
        let server = try EmbeddedPostgres(
            .init(directory: URL(fileURLWithPath: directory.path("postgres"))), logger: TestPostgres.logger)
        try await server.start()
        try await server.stop()
        return server
    }

    @Test func aMonitorWaitsForTheServerMigratesAndTellsWhenItGoesAndComesBack() async throws {
        let directory = try TemporaryDirectory(prefix: "db-monitor")
        let server = try await Self.stoppedServer(directory)
        defer { EmbeddedPostgres.stopImmediately(directory: server.configuration.directory) }
        let database = Database(url: server.url(), maxConnections: 2)
        let monitor = DatabaseMonitor(
            database: database, migrate: true, interval: .seconds(3600), logger: TestPostgres.logger)
        #expect(!monitor.readiness.ready)
        #expect(monitor.readiness.detail.contains("waiting for PostgreSQL"))

        let running = Task { try await monitor.run() }
        let migrated = Task { try await monitor.untilMigrated() }
        // The server is down: the monitor waits (it does not fail), and nothing that needs the tables runs.
        try await Task.sleep(for: .milliseconds(500))  // a stretch of down time, not a wait for a signal
        #expect(!monitor.readiness.ready)
        try await server.start()
        try await migrated.value
        let tables = try await PostgresPool(url: server.url(), maxConnections: 1).query(
            "SELECT count(*)::bigint FROM schema_migrations")
        #expect(try tables.first?.decode(Int.self, at: 0) ?? 0 > 0)

        await monitor.check()
        #expect(monitor.readiness.ready)
        EmbeddedPostgres.stopImmediately(directory: server.configuration.directory)
        await monitor.check()
        #expect(!monitor.readiness.ready)
        #expect(monitor.readiness.detail.contains("PostgreSQL unreachable"), "\(monitor.readiness.detail)")
        try await server.start()
        await monitor.check()
        #expect(monitor.readiness.ready, "\(monitor.readiness.detail)")
        running.cancel()
        _ = try? await running.value
        await database.close()
    }

    @Test func waitingIsOnlyForWhatWaitingCanFix() async throws {
        let directory = try TemporaryDirectory(prefix: "db-wait")
        let server = try await Self.stoppedServer(directory)
        defer { EmbeddedPostgres.stopImmediately(directory: server.configuration.directory) }
        // A server that is down: waited for until the patience runs out, then a precise error.
        let started = ContinuousClock.now
        await #expect(throws: DatabaseUnreachable.self) {
            try await Database.migrate(url: server.url(), logger: TestPostgres.logger, patience: .seconds(1))
        }
        #expect(ContinuousClock.now - started >= .seconds(1))
        // A database that does not exist: no amount of waiting helps, so it fails at once.
        try await server.start()
        let refused = ContinuousClock.now
        await #expect(throws: PostgresError.self) {
            try await Database.migrate(
                url: server.url(database: "nosuch"), logger: TestPostgres.logger, patience: .seconds(60))
        }
        #expect(ContinuousClock.now - refused < .seconds(30))
    }

    /// The operator's /readyz joins the database's answer and the controller's: when both are ready it says what
    /// the controller says ("ok: standing by"), otherwise the reason that is not ready.
    @Test func readinessJoinsKeepTheMoreSpecificAnswer() {
        let up = Readiness(ready: true, detail: "ok")
        let down = Readiness(ready: false, detail: "PostgreSQL unreachable: refused")
        let standby = Readiness(ready: true, detail: "ok: standing by (another instance holds the lease)")
        let syncing = Readiness(ready: false, detail: "waiting for the caches to sync")
        #expect(up.and(standby).detail == standby.detail)
        #expect(up.and(syncing).detail == syncing.detail && !up.and(syncing).ready)
        #expect(down.and(standby).detail == down.detail && !down.and(standby).ready)
    }
}
