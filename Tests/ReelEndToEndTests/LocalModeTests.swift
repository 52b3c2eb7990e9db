import Foundation
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `reel local` end to end: real Postgres, real media, real worker processes. Serialized: each run starts
/// several processes and the machine has two cores.
@Suite(.serialized) struct LocalModeTests {
    /// A resources directory with a sample video, and a database for the run.
    struct Setup {
        let directory: TemporaryDirectory
        let resources: String
        let databaseURL: String
        let pool: PostgresPool

        init(_ prefix: String, sampleSeconds: Int = 12) async throws {
            directory = try TemporaryDirectory(prefix: prefix)
            resources = directory.path("resources")
            try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
            let sample = try await SampleMedia.sample(in: directory, seconds: sampleSeconds)
            try FileManager.default.moveItem(atPath: sample, toPath: "\(resources)/sample.mp4")
            databaseURL = try await TestPostgres.database(prefix)
            pool = PostgresPool(url: databaseURL, maxConnections: 2)
        }

        /// Writes a VideoJob file.
        @discardableResult
        func job(_ name: String, source: String = "file://./sample.mp4", file: String? = nil, extra: String = "") throws
            -> String
        {
            try directory.write(
                "resources/\(file ?? name + ".yaml")",
                """
                apiVersion: reel.dev/v1alpha1
                kind: VideoJob
                metadata:
                  name: \(name)
                spec:
                  source:
                    uri: \(source)
                  split:
                    targetSeconds: 4
                \(extra)
                """)
        }

        /// Starts `reel local` on the resources directory.
        func start(
            _ extra: [String] = [], environment: [String: String] = [:], state: String? = nil, log: String = "local.log"
        )
            throws -> BackgroundProcess
        {
            var arguments = [
                "local", "--resources", resources, "--state", state ?? directory.path("state"),
                "--lease-seconds", "2", "--poll-seconds", "0.2", "--resync-seconds", "2", "--grace-seconds", "6",
            ]
            if state == nil { arguments += ["--database-url", databaseURL] }
            return try BackgroundProcess(
                ReelPaths.reelBinary, arguments + extra, environment: environment,
                outputPath: directory.path(log))
        }

        /// `reel get vj -o json` parsed: name → status.
        func statuses() async throws -> [String: [String: Any]] {
            let result = try await ReelPaths.reel(["get", "vj", "-o", "json", "--database-url", databaseURL])
            guard result.status == 0,
                let list = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                let items = list["items"] as? [[String: Any]]
            else { return [:] }
            var byName: [String: [String: Any]] = [:]
            for item in items {
                let name = (item["metadata"] as? [String: Any])?["name"] as? String ?? ""
                byName[name] = item["status"] as? [String: Any] ?? [:]
            }
            return byName
        }

        func int(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> Int {
            try await pool.query(sql, parameters).first?.decode(Int.self, at: 0) ?? 0
        }
    }

    /// Every file under `root`, as a key relative to it.
    static func files(under root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        return walker.compactMap { $0 as? String }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
    }

    static func condition(_ status: [String: Any], _ type: String) -> [String: Any]? {
        (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == type }
    }

    @Test func aDirectoryOfJobsIsProcessedToTimelinesAndRenders() async throws {
        let setup = try await Setup("e2e-ok")
        try setup.job("highlights", extra: "  timeline: {strategy: highlights, maxSeconds: 6}")
        try setup.job(
            "scenes",
            extra:
                "  timeline: {strategy: scenes}\n  render: {enabled: false}\n  output: {uri: \"file://./out/scenes/\"}")
        let local = try setup.start(["--until-done", "--timeout", "240"])
        let status = await local.wait()
        #expect(status == 0, "\(local.output)")
        let statuses = try await setup.statuses()
        for name in ["highlights", "scenes"] {
            let job = try #require(statuses[name])
            #expect(job["phase"] as? String == "Succeeded")
            #expect(job["observedGeneration"] as? Int == 1)
            #expect(job["progress"] as? Int == 100)
            #expect(Self.condition(job, "Succeeded")?["status"] as? String == "True")
            #expect(
                (job["conditions"] as? [[String: Any]])?.allSatisfy { $0["observedGeneration"] as? Int == 1 } == true)
        }
        let outputs = try #require(statuses["highlights"]?["outputs"] as? [String: String])
        let otio = String(try #require(outputs["otio"]).dropFirst("file://".count))
        let read = try await ProcessRunner.capture(
            ReelPaths.python,
            [
                "-c",
                """
                import sys, opentimelineio as otio
                t = otio.adapters.read_from_file(sys.argv[1])
                print(len(t.tracks[0]), sum(c.source_range.duration.to_seconds() for c in t.tracks[0]))
                """, otio,
            ])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.lines == ["3 6.0"], "three 2 s scenes fill the 6 s highlights")
        let render = String(try #require(outputs["render"]).dropFirst("file://".count))
        // The exact render: the timeline's 6 s to the frame (150 frames at 25 fps), as the condition says.
        let video = try await SampleMedia.ffprobe(
            [
                "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=duration,nb_read_frames", "-of",
                "csv=p=0",
                render,
            ])
        #expect(video == ["6.000000,150"])
        #expect(try await SampleMedia.decodeErrors(render).isEmpty)
        let highlights = try #require(statuses["highlights"])
        let rendered = try #require(Self.condition(highlights, "Rendered"))
        #expect(rendered["message"] as? String == "render written: 150 frames, 6.000 s, exact mode")
        let scenes = try #require(statuses["scenes"])
        #expect(Self.condition(scenes, "Rendered")?["reason"] as? String == "RenderDisabled")
        #expect(FileManager.default.fileExists(atPath: setup.directory.path("resources/out/scenes/timeline.otio")))
        #expect(
            FileManager.default.fileExists(atPath: setup.directory.path("state/status/default/VideoJob/scenes.yaml")))
        await setup.pool.close()
    }

    @Test func badInputFailsItsOwnJobQuicklyAndNothingElse() async throws {
        let setup = try await Setup("e2e-bad", sampleSeconds: 4)
        let outside = try TemporaryDirectory(prefix: "outside")
        let foreign = try outside.write("elsewhere.mp4", "x")
        _ = try setup.directory.write("resources/corrupt.mp4", String(repeating: "garbage ", count: 5000))
        try setup.job("good")
        try setup.job("corrupt", source: "file://./corrupt.mp4")
        try setup.job("missing", source: "file://./missing.mp4")
        try setup.job("outside", source: "file://\(foreign)")
        // A fast-start MP4 cut in half: its header still declares the whole length, so only reading every packet
        // finds out. And outputs outside the allowed roots. Both fail at ingest, not at analysis or assembly.
        try await SampleMedia.ffmpeg([
            "-i", "\(setup.resources)/sample.mp4", "-c", "copy", "-movflags", "+faststart",
            setup.directory.path("faststart.mp4"),
        ])
        let whole = try Data(contentsOf: URL(fileURLWithPath: setup.directory.path("faststart.mp4")))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: "\(setup.resources)/truncated.mp4"))
        try setup.job("truncated", source: "file://./truncated.mp4")
        try setup.job("badoutput", extra: "  output: {uri: \"file://\(outside.path("out"))/\"}")
        _ = try setup.directory.write(
            "resources/broken.yaml",
            "apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {name: broken}\nspec:\n  source: {uri: "
                + "file://./sample.mp4}\n  priority: extreme\n"
        )
        // Nothing here is killed, so a long lease: on a loaded machine a 2 s lease can run out between heartbeats,
        // and a task rescued from its own worker counts an attempt that is not a retry.
        let local = try setup.start(["--until-done", "--timeout", "180", "--lease-seconds", "30"])
        #expect(await local.wait() == 1, "a failed job and an invalid file make the exit status 1")
        let statuses = try await setup.statuses()
        #expect(statuses["good"]?["phase"] as? String == "Succeeded")
        for (name, reason) in [
            ("corrupt", "InvalidMedia"), ("missing", "SourceNotFound"), ("outside", "SourceNotAllowed"),
            ("truncated", "InvalidMedia"), ("badoutput", "OutputNotAllowed"),
        ] {
            let job = try #require(statuses[name], "\(name)")
            #expect(job["phase"] as? String == "Failed")
            #expect(Self.condition(job, "Succeeded")?["reason"] as? String == reason, "\(name)")
            #expect(Self.condition(job, "Ingested")?["reason"] as? String == reason, "\(name)")
            #expect((job["progress"] as? Int ?? 100) < 10, "\(name) failed late: \(job)")
        }
        let truncatedStatus = try #require(statuses["truncated"])
        let truncated = try #require(Self.condition(truncatedStatus, "Ingested"))
        let message = truncated["message"] as? String ?? ""
        #expect(message.contains("truncated.mp4") && message.contains("truncated or damaged"), "\(message)")
        #expect(!message.contains(setup.directory.path("state")) && !message.contains("scratch"), "\(message)")
        #expect(statuses["broken"] == nil)
        #expect(local.output.contains("broken.yaml:6:13: spec.priority:"), "\(local.output)")
        let retried = try await setup.pool.query(
            "SELECT job_id::text, attempt, errors::text FROM job_queue WHERE stage = 'ingest' AND attempt > 1")
        let history = try retried.map { row in
            "\(try row.decode(String.self, at: 0)) attempt \(try row.decode(Int.self, at: 1)): "
                + (try row.decode(String.self, at: 2))
        }
        #expect(history.isEmpty, "no retry storm: \(history)")
        let get = try await ReelPaths.reel(["get", "vj", "--database-url", setup.databaseURL])
        #expect(get.stderr.contains("broken.yaml:6:13: spec.priority: "))
        await setup.pool.close()
    }

    /// A source that sends its headers and then nothing holds one ingest slot, not the worker: ingest tasks run in
    /// slots of their own, so a job reading a local file goes through while the download hangs.
    @Test func aStalledSourceDoesNotHoldUpAnotherJobsIngest() async throws {
        let setup = try await Setup("e2e-stalled-source")
        let release = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer { _ in
            .stream(status: 200, headers: [("Content-Type", "video/mp4")]) { _ in
                release.wait()  // headers sent; nothing more until the test ends
                return false
            }
        }
        defer {
            server.stop()
            for _ in 0..<16 { release.signal() }
        }
        try setup.job("stalled", source: "http://127.0.0.1:\(server.port)/talk.mp4")
        // A long lease: the assertion below is that the first attempt is still the one running.
        let local = try setup.start([
            "--source-stall-seconds", "600", "--allow-source-host", "127.0.0.1", "--lease-seconds", "30",
        ])
        let running = "SELECT count(*)::bigint FROM job_queue WHERE stage = 'ingest' AND state = 'running'"
        let downloading = try await BackgroundProcess.eventually { (try? await setup.int(running)) == 1 }
        try #require(downloading, "the stalled job's ingest never started: \(local.output.suffix(2000))")
        try setup.job("local")
        let done = try await BackgroundProcess.eventually(timeout: .seconds(240)) {
            (try? await setup.statuses()["local"]?["phase"] as? String) == "Succeeded"
        }
        #expect(done, "\(local.output.suffix(3000))")
        // It did not wait for the stalled download to give up: that attempt is still the first, still running.
        let stalled = try await setup.pool.query(
            """
            SELECT q.state, q.attempt FROM job_queue q JOIN processing_jobs p ON p.id = q.job_id
            WHERE p.name = 'stalled' AND q.stage = 'ingest'
            """)
        #expect(try stalled.first?.decode(String.self, at: 0) == "running")
        #expect(try stalled.first?.decode(Int.self, at: 1) == 1)
        local.send(SIGTERM)
        _ = await local.wait()
    }

    /// Two jobs naming one output folder: the second is refused before any task, and deleting it leaves the first
    /// one's files alone; deleting the first removes exactly what it wrote.
    @Test func aJobCannotWriteIntoAnotherJobsOutput() async throws {
        let setup = try await Setup("e2e-output-claims", sampleSeconds: 4)
        let out = setup.directory.path("resources/out")
        let mine = try setup.directory.write("resources/out/notes.txt", "the user's own file")
        try setup.job("first", extra: "  output: {uri: \"file://./out/\"}")
        let local = try setup.start()
        let succeeded = try await BackgroundProcess.eventually {
            (try? await setup.statuses()["first"]?["phase"] as? String) == "Succeeded"
        }
        #expect(succeeded, "\(local.output.suffix(2000))")
        let written = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(written == ["notes.txt", "render.mp4", "timeline.edl", "timeline.json", "timeline.otio"])
        // Another spelling of the same folder.
        let second = try setup.job("second", extra: "  output: {uri: \"file://\(out)/../out\"}")
        let refused = try await BackgroundProcess.eventually {
            (try? await setup.statuses()["second"]?["phase"] as? String) == "Failed"
        }
        #expect(refused, "\(local.output.suffix(2000))")
        let status = try #require(try await setup.statuses()["second"])
        let reason = try #require(Self.condition(status, "Succeeded"))
        #expect(reason["reason"] as? String == "OutputConflict")
        #expect((reason["message"] as? String)?.contains("default/first") == true, "\(reason)")
        #expect(try await setup.int("SELECT count(*)::bigint FROM processing_jobs WHERE name = 'second'") == 0)
        try FileManager.default.removeItem(atPath: second)
        let gone = try await BackgroundProcess.eventually {
            try await setup.int("SELECT count(*)::bigint FROM resources WHERE name = 'second'") == 0
        }
        #expect(gone)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == written)
        try FileManager.default.removeItem(atPath: setup.directory.path("resources/first.yaml"))
        let cleaned = try await BackgroundProcess.eventually {
            try await setup.int("SELECT count(*)::bigint FROM resources") == 0
        }
        #expect(cleaned)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["notes.txt"], "only what it wrote")
        #expect(try String(contentsOfFile: mine, encoding: .utf8) == "the user's own file")
        #expect(try await setup.int("SELECT count(*)::bigint FROM output_claims") == 0)
        local.send(SIGTERM)
        #expect(await local.wait() == 0)
        await setup.pool.close()
    }

    /// `ttlSecondsAfterFinished` for a file's job, which Reel cannot delete: its outputs and records go, it says
    /// `Expired`, and it is not run again until the spec changes (it used to be accepted and ignored).
    @Test func aFinishedFileJobExpiresAndIsNotRunAgainUntilItsSpecChanges() async throws {
        let setup = try await Setup("e2e-ttl", sampleSeconds: 4)
        let file = try setup.job("short", extra: "  ttlSecondsAfterFinished: 1")
        let local = try setup.start()
        let expired = try await BackgroundProcess.eventually {
            (try? await setup.statuses()["short"]?["phase"] as? String) == "Expired"
        }
        #expect(expired, "\(local.output.suffix(2000))")
        let status = try #require(try await setup.statuses()["short"])
        #expect(Self.condition(status, "Expired")?["reason"] as? String == "TTLExpired")
        #expect(Self.condition(status, "Succeeded")?["status"] as? String == "True", "how it ended is kept")
        #expect(status["outputs"] == nil)
        #expect(try await setup.int("SELECT count(*)::bigint FROM processing_jobs") == 0)
        let uid = try await setup.pool.query("SELECT uid::text FROM resources WHERE name = 'short'").first!.decode(
            String.self, at: 0)
        #expect(!FileManager.default.fileExists(atPath: setup.directory.path("state/store/jobs/\(uid)")))
        // The same file written again, then a few resync passes (2 s each): nothing runs.
        try String(contentsOfFile: file, encoding: .utf8).write(toFile: file, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .seconds(5))  // the absence of work has no event to wait for
        #expect(try await setup.int("SELECT count(*)::bigint FROM processing_jobs") == 0)
        #expect(try await setup.statuses()["short"]?["phase"] as? String == "Expired")
        // A new spec is a new generation: it runs, and expires again.
        try setup.job("short", extra: "  ttlSecondsAfterFinished: 1\n  priority: high")
        let again = try await BackgroundProcess.eventually {
            let status = try await setup.statuses()["short"]
            return status?["observedGeneration"] as? Int == 2 && status?["phase"] as? String == "Expired"
        }
        #expect(again, "\(local.output.suffix(2000))")
        #expect(local.output.components(separatedBy: "processing generation").count - 1 == 2)
        local.send(SIGTERM)
        #expect(await local.wait() == 0)
        await setup.pool.close()
    }

    @Test func aWorkerKilledMidAnalysisLosesOnlyItsLease() async throws {
        let setup = try await Setup("e2e-kill-worker")
        try setup.job("a")
        let local = try setup.start(
            ["--until-done", "--timeout", "240"], environment: ["REEL_FAULT_DELAY": "analyze=1.5"])
        var taskID: Int64 = 0
        var pid: Int32 = 0
        // The worker is stopped, then its task looked at again: still running under its lease, it cannot finish
        // before the kill however long this test waits in between.
        let running = try await BackgroundProcess.eventually {
            // (The tables appear once reel local has migrated the database.)
            let rows = try? await setup.pool.query(
                "SELECT id, lease_owner FROM job_queue WHERE stage = 'analyze' AND state = 'running' ORDER BY "
                    + "id LIMIT 1"
            )
            guard let row = rows?.first else { return false }
            taskID = try row.decode(at: 0)
            let owner: String = try row.decode(at: 1)
            let parts = owner.split(separator: "-")
            guard parts.count >= 2, let worker = Int32(parts[parts.count - 2]) else { return false }
            pid = worker
            kill(pid, SIGSTOP)
            let still = try await setup.pool.query(
                "SELECT 1 FROM job_queue WHERE id = $1 AND state = 'running' AND lease_owner = $2", [taskID, owner])
            if still.isEmpty { kill(pid, SIGCONT) }
            return !still.isEmpty
        }
        try #require(running, "no analyze task was running within the time limit")
        kill(pid, SIGKILL)
        #expect(await local.wait() == 0, "\(local.output)")
        #expect(try await setup.statuses()["a"]?["phase"] as? String == "Succeeded")
        let writes = try await setup.pool.query("SELECT analysis_writes FROM video_chunks ORDER BY chunk_index").map {
            try $0.decode(Int.self, at: 0)
        }
        #expect(writes == [1, 1, 1], "each chunk's analysis written exactly once")
        #expect(try await setup.int("SELECT count(*)::bigint FROM analysis_cache") == 3)
        let killed = try await setup.pool.query("SELECT attempt, errors::text FROM job_queue WHERE id = $1", [taskID])
        #expect(try killed.first?.decode(Int.self, at: 0) == 2)
        #expect(try killed.first?.decode(String.self, at: 1).contains("worker lost") == true)
        #expect(local.output.contains("exited unexpectedly"))
        await setup.pool.close()
    }

    @Test func reelLocalKilledMidPipelineFinishesFromWhereItWasOnRestart() async throws {
        let setup = try await Setup("e2e-kill-local")
        try setup.job("a")
        let state = setup.directory.path("own-state")
        defer { EmbeddedPostgres.stopImmediately(directory: URL(fileURLWithPath: state + "/postgres")) }
        let first = try setup.start(
            ["--until-done"], environment: ["REEL_FAULT_DELAY": "analyze=1"], state: state, log: "first.log")
        let embedded = try EmbeddedPostgres(
            .init(directory: URL(fileURLWithPath: state + "/postgres")), logger: TestPostgres.logger)
        let pool = PostgresPool(url: embedded.url(database: "reel"), maxConnections: 2)
        // Once a chunk is analyzed, reel local is stopped and the job looked at again (SIGCONT if it is done):
        // stopped, it cannot finish the job and exit on its own however long this test takes before the kill. (Not
        // stopped before its first look: stopped inside its migrations, it would hold the tables this test reads.)
        let analyzed = try await BackgroundProcess.eventually {
            let rows = try? await pool.query("SELECT count(*)::bigint FROM video_chunks WHERE analyzed_at IS NOT NULL")
            guard (try? rows?.first?.decode(Int.self, at: 0)) ?? 0 >= 1 else { return false }
            first.send(SIGSTOP)
            let rendered = try? await pool.query(
                "SELECT 1 FROM job_queue WHERE stage = 'render' AND state = 'succeeded' LIMIT 1")
            guard let rendered, rendered.isEmpty else {
                first.send(SIGCONT)
                return false
            }
            return true
        }
        try #require(analyzed, "no chunk was analyzed within the time limit")
        first.send(SIGKILL)
        #expect(await first.wait() == 128 + SIGKILL)
        let second = try setup.start(["--until-done", "--timeout", "240"], state: state, log: "second.log")
        #expect(await second.wait() == 0, "\(second.output)")
        #expect(second.output.contains("reusing the PostgreSQL server"))
        try await embedded.start()  // the second run stopped the server it adopted
        let writes = try await pool.query("SELECT analysis_writes FROM video_chunks ORDER BY chunk_index").map {
            try $0.decode(Int.self, at: 0)
        }
        #expect(writes == [1, 1, 1], "analyses done before the crash were not redone")
        let ingest = try await pool.query("SELECT attempt FROM job_queue WHERE stage = 'ingest'")
        #expect(try ingest.map { try $0.decode(Int.self, at: 0) } == [1], "ingest ran once")
        await pool.close()
    }

    @Test func aSpecEditRestartsOnTheNewGenerationAndDeletingTheFileCleansUp() async throws {
        let setup = try await Setup("e2e-edit")
        let file = try setup.job("a")
        let local = try setup.start(environment: ["REEL_FAULT_DELAY": "analyze=0.5"])
        let analyzing = try await BackgroundProcess.eventually {
            try await setup.statuses()["a"]?["phase"] as? String == "Analyzing"
        }
        try #require(analyzing, "the job never reached Analyzing")
        // Longer chunks: the new generation stores two chunks where the first stored three.
        try setup.directory.write(
            "resources/a.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata:
              name: a
            spec:
              source:
                uri: file://./sample.mp4
              split:
                targetSeconds: 6
              timeline: {strategy: highlights, maxSeconds: 4}
              render: {enabled: false}
            """)
        let edited = try await BackgroundProcess.eventually {
            let status = try await setup.statuses()["a"]
            return status?["observedGeneration"] as? Int == 2 && status?["phase"] as? String == "Succeeded"
        }
        #expect(edited, "\(local.output)")
        // The first generation is retired, not left Analyzing, and nothing it stored is left behind.
        let retired = try await BackgroundProcess.eventually {
            try await setup.int(
                "SELECT count(*)::bigint FROM processing_jobs WHERE generation = 1 AND source_key IS NULL") == 1
        }
        #expect(retired, "\(local.output.suffix(2000))")
        let first = try await setup.pool.query(
            "SELECT phase, error_reason FROM processing_jobs WHERE generation = 1")
        #expect(try first.first?.decode(String.self, at: 0) == "Failed")
        #expect(try first.first?.decode(String.self, at: 1) == "Superseded")
        #expect(
            try await setup.int(
                "SELECT count(*)::bigint FROM video_chunks WHERE job_id IN "
                    + "(SELECT id FROM processing_jobs WHERE generation = 1)") == 0)
        let keys = try await setup.pool.query(
            """
            SELECT storage_key FROM video_chunks WHERE job_id IN (SELECT id FROM processing_jobs WHERE generation = 2)
            UNION ALL SELECT source_key FROM processing_jobs WHERE generation = 2
            """
        ).map { try $0.decode(String.self, at: 0) }
        #expect(keys.count == 3, "two chunks and the source: \(keys)")
        #expect(
            try await setup.int(
                "SELECT count(*)::bigint FROM job_queue WHERE generation = 1 AND state IN ('available', "
                    + "'running', 'retryable')"
            ) == 0)
        #expect(
            try await setup.int("SELECT count(*)::bigint FROM job_queue WHERE generation = 1 AND state = 'cancelled'")
                >= 1)
        let uid = try await setup.pool.query("SELECT uid::text FROM resources WHERE name = 'a'").first!.decode(
            String.self, at: 0)
        let storeDirectory = setup.directory.path("state/store/jobs/\(uid)")
        #expect(FileManager.default.fileExists(atPath: storeDirectory))
        let stored = try Self.files(under: setup.directory.path("state/store")).filter { $0.contains("/g") }
        #expect(Set(stored) == Set(keys), "stored objects of the job's generations: \(stored)")
        try FileManager.default.removeItem(atPath: file)
        let cleaned = try await BackgroundProcess.eventually {
            try await setup.int("SELECT count(*)::bigint FROM resources") == 0
        }
        #expect(cleaned)
        #expect(try await setup.int("SELECT count(*)::bigint FROM processing_jobs") == 0)
        #expect(try await setup.int("SELECT count(*)::bigint FROM job_queue") == 0)
        #expect(!FileManager.default.fileExists(atPath: storeDirectory))
        local.send(SIGTERM)
        #expect(await local.wait() == 0)
        await setup.pool.close()
    }

    @Test func twentyJobsAllSucceedAndThePoolScalesUpThenBackToZero() async throws {
        let setup = try await Setup("e2e-twenty", sampleSeconds: 8)
        for index in 0..<20 { try setup.job("job-\(index)", extra: "  render: {enabled: false}") }
        _ = try setup.directory.write(
            "resources/pools.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: WorkerPool
            metadata: {name: analyze}
            spec: {stages: [analyze], maxReplicas: 3, tasksPerReplica: 2, scaleDownDelaySeconds: 2}
            """)
        // Analysis held at 0.3 s a chunk, so the queue builds up faster than one or two workers drain it.
        let local = try setup.start(environment: ["REEL_FAULT_DELAY": "analyze=0.3"])
        let done = try await BackgroundProcess.eventually(timeout: .seconds(400)) {
            let statuses = try await setup.statuses()
            return statuses.count == 20 && statuses.values.allSatisfy { $0["phase"] as? String == "Succeeded" }
        }
        #expect(done, "\(local.output)")
        // The most analyze workers claiming at once: 40 analyze tasks at 2 per replica reach maxReplicas, and never
        // more (a worker told to stop no longer claims while it finishes; like a terminating pod it is not counted).
        let peak = try await setup.int(
            """
            SELECT max((SELECT count(*) FROM workers o WHERE o.pool = 'analyze' AND o.started_at <= w.started_at
                        AND coalesce(o.draining_at, o.stopped_at, 'infinity') > w.started_at))::bigint
            FROM workers w WHERE w.pool = 'analyze'
            """)
        #expect(peak == 3)
        let idle = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            try await setup.int("SELECT count(*)::bigint FROM workers WHERE pool = 'analyze' AND stopped_at IS NULL")
                == 0
        }
        #expect(idle, "the pool scales back to zero after the delay")
        let pool = try await ReelPaths.reel(["get", "wp", "analyze", "-o", "json", "--database-url", setup.databaseURL])
        let status =
            (try JSONSerialization.jsonObject(with: Data(pool.stdout.utf8)) as? [String: Any])?["status"]
            as? [String: Any]
        #expect(status?["replicas"] as? Int == 0)
        local.send(SIGTERM)
        #expect(await local.wait() == 0)
        await setup.pool.close()
    }
}
