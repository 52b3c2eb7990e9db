import Foundation
import ReelHTTP
import ReelCore
import ReelAPI
import ReelMedia
import ReelPostgres
import ReelStorage
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

@testable import ReelPipeline

/// The stage handlers on real media, a real store and a real Postgres, driven task by task.
@Suite struct PipelineTests {
    struct Fixture {
        var pool: PostgresPool
        var database: Database
        var queue: TaskQueue
        var store: FileSystemStore
        var pipeline: Pipeline
        var directory: TemporaryDirectory

        init(prefix: String) async throws {
            let url = try await TestPostgres.migratedDatabase(prefix)
            pool = PostgresPool(url: url, maxConnections: 4)
            database = Database(pool: pool, url: url)
            queue = database.queue()
            directory = try TemporaryDirectory(prefix: prefix)
            store = try FileSystemStore(root: directory.path("store"))
            var configuration = PipelineConfiguration(
                allowedRoots: AllowedRoots([directory.url.path]), scratchDirectory: directory.path("scratch"))
            configuration.sourceAddresses = Self.loopback
            pipeline = Pipeline(database: database, store: store, configuration: configuration)
        }

        /// The test servers' addresses, which a default policy refuses.
        static let loopback = AddressPolicy(allowing: [AddressPolicy.Range("127.0.0.0/8")!])

        /// A job row as the reconciler writes it for a resource declared in `directory/job.yaml`.
        func job(_ spec: VideoJobSpec, uid: String = UUID().uuidString.lowercased()) async throws -> Int64 {
            let declared = StoredResource(
                uid: uid, key: ResourceKey(kind: "VideoJob", namespace: "default", name: "a"), generation: 1,
                resourceVersion: 1, spec: try JSONDocument(encoding: spec), creationTimestamp: Date(),
                sourceFile: directory.path("job.yaml"))
            return try await pool.query(
                """
                INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec)
                VALUES ($1, 'default', 'a', 1, $2::jsonb) RETURNING id
                """, [uid, try declared.processingSpec()]
            ).first!.decode(Int64.self, at: 0)
        }

        /// Enqueues and claims one task of `stage`.
        func claim(_ job: Int64, _ stage: Stage, chunk: Int? = nil) async throws -> ClaimedTask {
            let payload = try JSONDocument(
                encoding: TaskPayload(uid: "u", namespace: "default", name: "a"))
            try await queue.enqueue([
                NewTask(jobID: job, generation: 1, stage: stage, chunkIndex: chunk, payload: payload)
            ])
            return try #require(
                try await queue.claim(stages: [stage], limit: 1, worker: "test", lease: .seconds(30)).first)
        }

        /// Runs a task to completion; returns the failure if it failed.
        func run(_ job: Int64, _ stage: Stage, chunk: Int? = nil) async throws -> TaskFailure? {
            let task = try await claim(job, stage, chunk: chunk)
            do throws(TaskFailure) {
                try await pipeline.run(task) { _ in }
            } catch {
                return error
            }
            #expect(try await queue.complete(task.lease))
            return nil
        }
    }

    @Test func theStagesTurnASampleIntoChunksAnalysesATimelineAndARender() async throws {
        let fixture = try await Fixture(prefix: "pipeline")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 12)
        var spec = VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4"))
        spec.split.targetSeconds = 4
        let job = try await fixture.job(spec)
        for stage in [Stage.ingest, .split] { #expect(try await fixture.run(job, stage) == nil) }
        let chunks = try await fixture.pool.query("SELECT count(*)::bigint FROM video_chunks WHERE job_id = $1", [job])
        #expect(try chunks.first?.decode(Int.self, at: 0) == 3)
        for index in 0..<3 { #expect(try await fixture.run(job, .analyze, chunk: index) == nil) }
        for stage in [Stage.assemble, .render] { #expect(try await fixture.run(job, stage) == nil) }
        let record = try await JobRecord.load(job, from: fixture.database)
        #expect(record.sourceDuration == 12)
        #expect(record.frameRate == 25)
        let timeline = try JSONDecoder().decode(
            Timeline.self, from: Data(contentsOf: URL(fileURLWithPath: String(record.outputs.timeline!.dropFirst(7)))))
        // Every 2 s scene of the sample, each cut found (the chunk boundaries at 4 and 8 s are real cuts too).
        #expect(timeline.clips.map(\.start) == [0, 2, 4, 6, 8, 10])
        let render = String(try #require(record.outputs.render).dropFirst("file://".count))
        let probe = try await SampleMedia.ffprobe(
            [
                "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=duration,nb_read_frames", "-of",
                "csv=p=0",
                render,
            ])
        // The exact render: the timeline's 12 s to the frame, 300 frames at 25 fps.
        let fields = (probe.first ?? "").split(separator: ",").compactMap { Double($0) }
        #expect(fields.count == 2 && abs(fields[0] - 12) <= 0.001 && fields[1] == 300, "\(probe)")
        #expect(try await SampleMedia.decodeErrors(render).isEmpty)
        let facts = try await fixture.pool.query("SELECT render_facts FROM processing_jobs WHERE id = $1", [job])
        let recorded = try #require(try facts.first?.decode(JSONDocument.self, at: 0).decode(RenderFacts.self))
        #expect(recorded == RenderFacts(mode: "exact", frames: 300, seconds: 12))
        #expect(recorded.message == "render written: 300 frames, 12.000 s, exact mode")
    }

    @Test func aSecondJobOverTheSameBytesIsAnalyzedFromTheCache() async throws {
        let fixture = try await Fixture(prefix: "cache")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let spec = VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4"))
        for _ in 0..<2 {
            let job = try await fixture.job(spec)
            for stage in [Stage.ingest, .split] { #expect(try await fixture.run(job, stage) == nil) }
            #expect(try await fixture.run(job, .analyze, chunk: 0) == nil)
        }
        let cache = try await fixture.pool.query("SELECT count(*)::bigint FROM analysis_cache")
        #expect(try cache.first?.decode(Int.self, at: 0) == 1)
        let logs = try await fixture.pool.query(
            "SELECT fields->>'cache' FROM job_logs WHERE message = 'chunk analyzed' ORDER BY id")
        #expect(try logs.map { try $0.decode(String.self, at: 0) } == ["miss", "hit"])
    }

    @Test func aWorkerWhoseLeaseWasRescuedWritesNothing() async throws {
        let fixture = try await Fixture(prefix: "fence")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
        for stage in [Stage.ingest, .split] { #expect(try await fixture.run(job, stage) == nil) }
        let stale = try await fixture.claim(job, .analyze, chunk: 0)
        // The lease expires and another worker takes the task over.
        try await fixture.pool.query(
            "UPDATE job_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [stale.lease.taskID])
        #expect(try await fixture.queue.rescueExpired() == 1)
        let fresh = try #require(
            try await fixture.queue.claim(stages: [.analyze], limit: 1, worker: "b", lease: .seconds(30)).first)
        var failure: TaskFailure?
        do throws(TaskFailure) { try await fixture.pipeline.run(stale) { _ in } } catch { failure = error }
        #expect(failure?.reason == "LeaseLost")
        let writes = try await fixture.pool.query("SELECT analysis_writes FROM video_chunks WHERE job_id = $1", [job])
        #expect(try writes.first?.decode(Int.self, at: 0) == 0, "the stale holder wrote nothing")
        try await fixture.pipeline.run(fresh) { _ in }
        let after = try await fixture.pool.query("SELECT analysis_writes FROM video_chunks WHERE job_id = $1", [job])
        #expect(try after.first?.decode(Int.self, at: 0) == 1)
    }

    /// The API's render vocabulary (ReelAPI) and the media engine's (ReelMedia, which cannot import it) agree.
    @Test func renderSpecAndRenderOptionsSpeakTheSameValues() {
        #expect(RenderSpec.presets == RenderOptions.presets)
        #expect(RenderSpec.Mode.allCases.map(\.rawValue) == RenderMode.allCases.map(\.rawValue))
        #expect(RenderSpec.Codec.allCases.map(\.rawValue) == RenderCodec.allCases.map(\.rawValue))
        #expect(RenderSpec.defaultCRF == RenderOptions().crf && RenderSpec.defaultPreset == RenderOptions().preset)
        for mode in RenderSpec.Mode.allCases {
            #expect(
                RenderOptions(RenderSpec(mode: mode, codec: .hevc, crf: 7, preset: "slow"))
                    == RenderOptions(mode: RenderMode(rawValue: mode.rawValue)!, codec: .hevc, crf: 7, preset: "slow"))
        }
    }

    @Test func whatWouldFailTheRenderFailsTheIngest() async throws {
        let fixture = try await Fixture(prefix: "preflight")
        let sample = try await SampleMedia.sample(in: fixture.directory, seconds: 2)
        // FFV1 in Matroska: decodable (exact renders it), but MP4 cannot carry it copied as it is.
        try await SampleMedia.ffmpeg([
            "-i", sample, "-c:v", "ffv1", "-c:a", "copy", fixture.directory.path("lossless.mkv"),
        ])
        var keyframe = VideoJobSpec(source: SourceSpec(uri: "file://./lossless.mkv"))
        keyframe.render.mode = .keyframe
        var outside = VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4"))
        outside.output = OutputSpec(uri: "file:///var/reel-elsewhere/")
        for (spec, reason) in [(keyframe, "RenderUnsupported"), (outside, "OutputNotAllowed")] {
            let job = try await fixture.job(spec)
            let failure = try await fixture.run(job, .ingest)
            #expect(failure?.reason == reason)
            #expect(failure?.retryable == false)
        }
        keyframe.render.mode = .exact
        #expect(try await fixture.run(try await fixture.job(keyframe), .ingest) == nil)
        #expect(!FileManager.default.fileExists(atPath: "/var/reel-elsewhere"))
    }

    /// A payload the reconciler did not write fails its task for good; it used to be read as "no base directory",
    /// and a relative source then failed with a misleading reason.
    @Test func aTaskWhosePayloadIsNotATaskPayloadFailsForGood() async throws {
        let fixture = try await Fixture(prefix: "payload")
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
        try await fixture.queue.enqueue([
            NewTask(
                jobID: job, generation: 1, stage: .ingest, payload: JSONDocument(text: #"["not", "an", "object"]"#))
        ])
        let task = try #require(
            try await fixture.queue.claim(stages: [.ingest], limit: 1, worker: "test", lease: .seconds(30)).first)
        var failure: TaskFailure?
        do throws(TaskFailure) { try await fixture.pipeline.run(task) { _ in } } catch { failure = error }
        #expect(failure?.reason == "InvalidTask" && failure?.retryable == false, "\(String(describing: failure))")
    }

    @Test func badSourcesFailPermanentlyWithAReason() async throws {
        let fixture = try await Fixture(prefix: "bad")
        _ = try fixture.directory.write("corrupt.mp4", String(repeating: "not a video ", count: 2000))
        var cases: [(String, String)] = [
            ("file://./corrupt.mp4", "InvalidMedia"), ("file://./missing.mp4", "SourceNotFound"),
            ("file:///etc/hostname", "SourceNotAllowed"), ("s3://bucket/key.mp4", "SourceForbidden"),
            ("ftp://host/key.mp4", "SourceUnsupported"),
        ]
        let sample = try await SampleMedia.sample(in: fixture.directory, seconds: 2)
        let digest = try FileHashing.hash(sample).sha256
        cases.append(("file://./sample.mp4", "ChecksumMismatch"))
        for (uri, reason) in cases {
            let sha = reason == "ChecksumMismatch" ? String(repeating: "0", count: 64) : nil
            let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: uri, sha256: sha)))
            let failure = try await fixture.run(job, .ingest)
            #expect(failure?.reason == reason, "\(uri)")
            #expect(failure?.retryable == false)
        }
        let good = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4", sha256: digest)))
        #expect(try await fixture.run(good, .ingest) == nil)
    }

    @Test func httpSourcesStreamThroughLibcurlWithALimitAndStatusErrors() async throws {
        let fixture = try await Fixture(prefix: "http")
        let served = try TemporaryDirectory(prefix: "served")
        _ = try await SampleMedia.sample(in: served, seconds: 2, name: "clip.mp4")
        let server = try BackgroundProcess(
            "/usr/bin/python3",
            ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", served.url.path],
            outputPath: fixture.directory.path("http.log"))
        defer { server.send(SIGTERM) }
        var port = ""
        let listening = try await BackgroundProcess.eventually(timeout: .seconds(20)) {
            port =
                server.output.split(separator: " ").first { $0.hasPrefix("port") == false && Int($0) != nil }.map(
                    String.init) ?? ""
            return !port.isEmpty
        }
        try #require(listening, "python's http.server did not report its port: \(server.output)")
        let base = "http://127.0.0.1:\(port)"
        let ok = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "\(base)/clip.mp4")))
        #expect(try await fixture.run(ok, .ingest) == nil)
        #expect(try await JobRecord.load(ok, from: fixture.database).sourceName == "clip.mp4")
        let missing = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "\(base)/nope.mp4")))
        #expect(try await fixture.run(missing, .ingest)?.reason == "SourceNotFound")

        var limited = PipelineConfiguration(
            allowedRoots: AllowedRoots([]), maxSourceBytes: 1000, scratchDirectory: fixture.directory.path("scratch"))
        limited.sourceAddresses = Fixture.loopback
        let small = Pipeline(database: fixture.database, store: fixture.store, configuration: limited)
        let big = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "\(base)/clip.mp4")))
        let task = try await fixture.claim(big, .ingest)
        var failure: TaskFailure?
        do throws(TaskFailure) { try await small.run(task) { _ in } } catch { failure = error }
        #expect(failure?.reason == "SourceTooLarge" && failure?.retryable == false)
        let refused = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "http://127.0.0.1:1/x.mp4")))
        let transport = try await fixture.run(refused, .ingest)
        #expect(transport?.reason == "SourceUnavailable" && transport?.retryable == true)

        // By default a source may reach public addresses only: this machine is refused, for good, with the reason.
        for (uri, policy) in [
            ("\(base)/clip.mp4", AddressPolicy()), ("http://localhost:\(port)/clip.mp4", AddressPolicy()),
        ] {
            var guarded = PipelineConfiguration(
                allowedRoots: AllowedRoots([]), scratchDirectory: fixture.directory.path("scratch"))
            guarded.sourceAddresses = policy
            let pipeline = Pipeline(database: fixture.database, store: fixture.store, configuration: guarded)
            let task = try await fixture.claim(
                try await fixture.job(VideoJobSpec(source: SourceSpec(uri: uri))), .ingest)
            var failure: TaskFailure?
            do throws(TaskFailure) { try await pipeline.run(task) { _ in } } catch { failure = error }
            #expect(
                failure?.reason == "SourceForbidden" && failure?.retryable == false,
                "\(uri): \(String(describing: failure))")
            #expect(failure?.message.contains("a loopback address") == true, "\(failure?.message ?? "")")
            #expect(failure?.message.contains("--allow-source-host") == true)
        }
    }

    @Test func anS3OutputWhoseEndpointIsAPrivateAddressIsRefusedAtIngest() async throws {
        let fixture = try await Fixture(prefix: "endpoint")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 2)
        var spec = VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4"))
        spec.output = OutputSpec(uri: "s3://bucket/out/?region=us-east-1&endpoint=http://169.254.169.254")
        let failure = try await fixture.run(try await fixture.job(spec), .ingest)
        #expect(failure?.reason == "OutputForbidden" && failure?.retryable == false)
        #expect(failure?.message.contains("169.254.169.254, a link-local address") == true, "\(failure?.message ?? "")")
    }

    @Test func aSourcePastThePixelOrDurationLimitIsRefusedAtIngest() async throws {
        let fixture = try await Fixture(prefix: "limits")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)  // 320 × 240
        for (pixels, seconds, what) in [(320 * 240 - 1, 3600, "76800 pixels"), (320 * 240, 3, "lasts 4 s")] {
            var configuration = PipelineConfiguration(
                allowedRoots: AllowedRoots([fixture.directory.url.path]),
                scratchDirectory: fixture.directory.path("scratch"))
            configuration.maxPixels = pixels
            configuration.maxDuration = .seconds(seconds)
            let pipeline = Pipeline(database: fixture.database, store: fixture.store, configuration: configuration)
            let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
            let task = try await fixture.claim(job, .ingest)
            var failure: TaskFailure?
            do throws(TaskFailure) { try await pipeline.run(task) { _ in } } catch { failure = error }
            #expect(failure?.reason == "SourceTooLarge" && failure?.retryable == false)
            #expect(failure?.message.contains(what) == true, "\(failure?.message ?? "")")
        }
        let within = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
        #expect(try await fixture.run(within, .ingest) == nil)
    }
}
