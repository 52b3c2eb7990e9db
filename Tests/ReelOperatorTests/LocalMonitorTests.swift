import ReelStore
import ReelTestSupport
import Testing

@testable import ReelOperator

/// `reel local --until-done`: when the run may end.
@Suite struct LocalMonitorTests {
    /// The monitor decides only on a read of the table made after the directory had been read. It used to ask
    /// after reading: a first scan that finished in between made the empty read look like a directory without
    /// jobs, and the run ended at once with exit status 0 and nothing done (seen in CI on a Gemini job).
    @Test func untilDoneWaitsForTheJobsOfAScanThatFinishesDuringItsFirstRead() async throws {
        let (pool, _, directory) = try await ReconcilerTests().setUp()
        let table = ResourceTable(pool: pool)
        let backend = DirectoryBackend(directory: directory.url.path, table: table, logger: TestPostgres.logger) { _ in
        }
        _ = try directory.write("jobs/a.yaml", ReconcilerTests.videoJob("a"))
        // The first scan runs when the monitor first asks whether there has been one: whichever of its read of
        // the table and that question comes second sees the job.
        let monitor = LocalMonitor(
            table: table,
            scanned: {
                if backend.scans == 0 { _ = try? await backend.scanOnce() }
                return backend.scans > 0
            }, untilDone: true, timeout: .seconds(2), logger: TestPostgres.logger, terminal: false)
        try await monitor.run()
        #expect(monitor.outcome == .timedOut, "nothing ran the job, so the run cannot have ended")
        await pool.close()
    }
}
