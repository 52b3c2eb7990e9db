import Foundation
import ReelAPI
import ReelCore
import ReelPostgres
import ReelStorage
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelOperator

/// What the reconciler reads of a job must hold together: a stage it sees finished has the outputs it wrote.
@Suite struct ObservationOrderTests {
    @Test func aRenderThatFinishesWhileTheReconcilerReadsIsNeverSucceededWithoutItsOutput() async throws {
        let url = try await TestPostgres.migratedDatabase("observe-order")
        let pool = PostgresPool(url: url, maxConnections: 4)
        let directory = try TemporaryDirectory(prefix: "observe-order")
        let table = ResourceTable(pool: pool)
        let key = try #require(try await ReconcilerTests.finishedJobs(1, table: table, pool: pool).first)
        // The render has not finished: its task runs, and the job's row names no render yet.
        try await pool.query(
            """
            UPDATE job_queue SET state = 'running', finished_at = NULL, lease_owner = 'w',
                lease_token = gen_random_uuid(), lease_expires_at = now() + interval '1 hour'
            WHERE stage = 'render'
            """)
        let reconciler = Reconciler(
            database: Database(pool: pool, url: url), store: try FileSystemStore(root: directory.path("store")),
            configuration: ReconcilerConfiguration(), logger: TestPostgres.logger)
        try await reconciler.reconcile(key)
        #expect(try await table.get(key).map { try $0.videoJob().status?.phase } == .Rendering)

        // The render worker's two writes, its output and then its completion, land while the reconciler reads:
        // after it has read the job's row, before it reads the tasks (which waits for this lock).
        let writer = try await PostgresConnection.connect(url)
        try await writer.execute("BEGIN; LOCK TABLE job_queue IN ACCESS EXCLUSIVE MODE")
        let reconciling = Task { try await reconciler.reconcile(key) }
        try await waitForALockOnTheQueue(pool)
        try await writer.execute(
            """
            UPDATE processing_jobs SET outputs = outputs || '{"render": "file:///out/render.mp4"}';
            UPDATE job_queue SET state = 'succeeded', finished_at = now(), lease_expires_at = NULL
            WHERE stage = 'render';
            COMMIT
            """)
        try await reconciling.value
        let status = try await table.get(key)?.videoJob().status
        #expect(status?.phase == .Succeeded)
        #expect(status?.outputs?.render == "file:///out/render.mp4", "Succeeded is never announced before the render")
        await writer.close()
        await pool.close()
    }

    /// Returns once a statement waits for a lock on `job_queue` (the server's view is the only signal there is).
    private func waitForALockOnTheQueue(_ pool: PostgresPool) async throws {
        for _ in 0..<3000 {
            let waiting = try await pool.query(
                "SELECT count(*) FROM pg_locks WHERE relation = 'job_queue'::regclass AND NOT granted")
            if try waiting.first?.decode(Int.self, at: 0) ?? 0 > 0 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the reconciler never waited for the queue")
    }
}
