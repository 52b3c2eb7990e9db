import Foundation
import ReelCore
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `reel worker` under SIGTERM: stop claiming, let running tasks finish within the drain time, hand back the rest.
@Suite(.serialized) struct WorkerShutdownTests {
    /// A database with one job whose ingest task waits in the queue, and a worker started on it.
    func start(delay: Double, drain: Double) async throws -> (BackgroundProcess, PostgresPool, TemporaryDirectory) {
        let url = try await TestPostgres.migratedDatabase("worker-drain")
        let pool = PostgresPool(url: url, maxConnections: 2)
        let directory = try TemporaryDirectory(prefix: "worker-drain")
        let sample = try await SampleMedia.sample(in: directory, seconds: 2)
        let spec =
            #"{"source":{"uri":"file://\#(sample)"},"priority":"normal","#
            + #""split":{"targetSeconds":60,"maxBytes":52428800},"#
            + #""analysis":{"provider":"local","sceneThreshold":0.1},"timeline":{"strategy":"scenes","maxSeconds":90},"#
            + #""render":{"enabled":true},"retry":{"maxAttempts":5,"backoffSeconds":5,"maxBackoffSeconds":600},"#
            + #""suspend":false}"#
        let job = try await pool.query(
            "INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec) VALUES ('u', "
                + "'default', 'a', 1, $1::jsonb) RETURNING id",
            [JSONDocument(text: spec)]
        ).first!.decode(Int64.self, at: 0)
        try await TaskQueue(pool: pool).enqueue([NewTask(jobID: job, generation: 1, stage: .ingest)])
        let worker = try BackgroundProcess(
            ReelPaths.reelBinary,
            [
                "worker", "--stages", "ingest", "--database-url", url, "--storage", directory.path("store"),
                "--allow-root", directory.url.path, "--drain-seconds", "\(drain)", "--lease-seconds", "30",
            ],
            environment: ["REEL_FAULT_DELAY": "ingest=\(delay)"], outputPath: directory.path("worker.log"))
        var lastError = ""
        // The worker's own log line says the task started (a row, so it cannot be missed between two looks).
        let running = await BackgroundProcess.eventually(timeout: .seconds(120)) {
            do {
                return try await !pool.query("SELECT 1 FROM job_logs WHERE message = 'ingest started'").isEmpty
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        #expect(running, "\(lastError)\n\(worker.output)")
        return (worker, pool, directory)
    }

    /// The database goes away while a task runs: the worker says the failure could not be recorded, and why
    /// (it used to log the outcome as "unknown"; a database error on completion read "lease was lost").
    @Test func aDatabaseOutageIsReportedAsSuchNotAsALostLease() async throws {
        // The outage starts well inside the task's 8 s pause, before it writes its result.
        let admin = try await PostgresConnection.connect(try await TestPostgres.database("worker-outage-admin"))
        let (worker, pool, directory) = try await start(delay: 8, drain: 60)
        let database = try #require(try await pool.query("SELECT current_database()").first?.decode(String.self, at: 0))
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS false")
        try await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [database])
        let reported = await BackgroundProcess.eventually(timeout: .seconds(60)) {
            worker.output.contains("not recorded (it runs again once its lease expires)")
        }
        try await admin.query("ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS true")
        #expect(reported, "\(worker.output)")
        #expect(!worker.output.contains("lease was lost"))
        worker.send(SIGTERM)
        _ = await worker.wait()
        await admin.close()
        await pool.close()
        _ = directory
    }

    @Test func sigtermLetsARunningTaskFinishWithinTheDrainTime() async throws {
        let (worker, pool, directory) = try await start(delay: 3, drain: 60)
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0, "\(worker.output)")
        let state = try await pool.query("SELECT state, attempt FROM job_queue").first
        #expect(try state?.decode(String.self, at: 0) == "succeeded")
        let stopped = try await pool.query("SELECT stopped_at IS NOT NULL FROM workers").first
        #expect(try stopped?.decode(Bool.self, at: 0) == true)
        await pool.close()
        _ = directory
    }

    /// `reel worker` hands itself to `reel-worker` beside it (same PID, so signals and `--parent-pid` still
    /// reach it), which runs the same worker without Foundation's ICU-backed libraries or the API server in memory.
    @Test func reelWorkerRunsAsTheSmallerReelWorkerInTheSameProcess() async throws {
        let (worker, pool, directory) = try await start(delay: 1, drain: 60)
        let image = try ProcessImage(pid: worker.pid)
        #expect(image.executable.hasSuffix("/reel-worker"), "\(image.executable)")
        #expect(image.maps.contains("/reel-worker") && image.maps.contains("libpq.so"), "\(image.maps.prefix(2000))")
        #expect(image.foundationLibraries.isEmpty, "mapped: \(image.foundationLibraries)")
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0, "\(worker.output)")
        let state = try await pool.query("SELECT state FROM job_queue").first
        #expect(try state?.decode(String.self, at: 0) == "succeeded")
        await pool.close()
        _ = directory
    }

    @Test func sigtermHandsBackATaskThatCannotFinishInTime() async throws {
        let (worker, pool, directory) = try await start(delay: 600, drain: 0.5)
        worker.send(SIGTERM)
        #expect(await worker.wait() == 0, "\(worker.output)")
        let row = try #require(try await pool.query("SELECT state, attempt, lease_token IS NULL FROM job_queue").first)
        #expect(try row.decode(String.self, at: 0) == "available")
        #expect(try row.decode(Int.self, at: 1) == 0, "a released task does not spend an attempt")
        #expect(try row.decode(Bool.self, at: 2))
        #expect(worker.output.contains("released unfinished"))
        await pool.close()
        _ = directory
    }
}
