import Foundation
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

/// `provider: gemini` through `reel local` and `reel analyze`, against the fake Gemini.
@Suite(.serialized) struct GeminiLocalTests {
    static func job(_ name: String, extra: String = "") -> String {
        """
        apiVersion: reel.dev/v1alpha1
        kind: VideoJob
        metadata: {name: \(name)}
        spec:
          source: {uri: "file://./sample.mp4"}
          split: {targetSeconds: 4}
          analysis:
            provider: gemini
            model: gemini-2.5-flash
        \(extra)
          render: {enabled: false}
        """
    }

    @Test func aGeminiJobSucceedsItsCostIsReportedARerunCostsNothingAndTheKeyIsNowhere() async throws {
        let fake = try FakeGemini()
        defer { fake.stop() }
        let setup = try await LocalModeTests.Setup("e2e-gemini", sampleSeconds: 8)
        _ = try setup.directory.write("resources/a.yaml", Self.job("a"))
        let environment = ["GEMINI_API_KEY": fake.apiKey, "REEL_GEMINI_ENDPOINT": fake.endpoint]
        let first = try setup.start(["--until-done", "--timeout", "180"], environment: environment, log: "first.log")
        #expect(await first.wait() == 0, "\(first.output)")
        #expect(fake.violations.isEmpty, "\(fake.violations)")
        #expect(fake.generateCalls.count == 2, "one call per chunk")
        var status = try #require(try await setup.statuses()["a"])
        #expect(status["phase"] as? String == "Succeeded")
        #expect(status["usage"] as? [String: Int] == ["promptTokens": 2580, "outputTokens": 360, "requests": 2])

        // The same video again: every chunk comes from the analysis cache.
        _ = try setup.directory.write("resources/b.yaml", Self.job("b"))
        let second = try setup.start(["--until-done", "--timeout", "180"], environment: environment, log: "second.log")
        #expect(await second.wait() == 0, "\(second.output)")
        #expect(fake.generateCalls.count == 2, "no new requests")
        status = try #require(try await setup.statuses()["b"])
        #expect(status["usage"] as? [String: Int] == ["promptTokens": 0, "outputTokens": 0, "requests": 0])
        let ledger = try await setup.pool.query(
            "SELECT name, prompt_tokens, output_tokens, requests FROM processing_jobs ORDER BY name")
        #expect(
            try ledger.map { row in
                let numbers = try (1...3).map { i in String(try row.decode(Int.self, at: i)) }
                return ([try row.decode(String.self, at: 0)] + numbers).joined(separator: ":")
            }
                == ["a:2580:360:2", "b:0:0:0"], "the per-job ledger in Postgres")

        // The key appears in no log, status, row or file Reel wrote.
        var haystacks = [first.output, second.output]
        let state = setup.directory.path("state")
        for file in FileManager.default.enumerator(atPath: state)?.compactMap({ $0 as? String }) ?? []
        where file.hasSuffix(".log") || file.hasSuffix(".yaml") || file.hasSuffix(".json") || file.hasSuffix(".otio") {
            haystacks.append((try? String(contentsOfFile: "\(state)/\(file)", encoding: .utf8)) ?? "")
        }
        for table in [
            "resources", "processing_jobs", "job_queue", "job_logs", "video_chunks", "analysis_cache", "workers",
            "rate_limit_events",
        ] {
            let rows = try await setup.pool.query("SELECT t::text FROM \(table) t")
            haystacks += try rows.map { try $0.decode(String.self, at: 0) }
        }
        #expect(haystacks.count > 10)
        #expect(!haystacks.contains { $0.contains(fake.apiKey) }, "the API key leaked")
        await setup.pool.close()
    }

    @Test func threeWorkerProcessesShareOneRequestBudget() async throws {
        let fake = try FakeGemini()
        defer { fake.stop() }
        let setup = try await LocalModeTests.Setup("e2e-gemini-rate", sampleSeconds: 12)
        // 2 s chunks: 6 requests; 2 per 2 s window, whichever of the three workers sends them.
        _ = try setup.directory.write(
            "resources/a.yaml",
            Self.job("a", extra: "    requestsPerMinute: 2").replacingOccurrences(
                of: "split: {targetSeconds: 4}", with: "split: {targetSeconds: 2}"))
        _ = try setup.directory.write(
            "resources/pool.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: WorkerPool
            metadata: {name: analyze}
            spec: {stages: [analyze], minReplicas: 3, maxReplicas: 3, tasksPerReplica: 1}
            """)
        let window = 2.0
        let local = try setup.start(
            ["--until-done", "--timeout", "180"],
            environment: [
                "GEMINI_API_KEY": fake.apiKey, "REEL_GEMINI_ENDPOINT": fake.endpoint,
                "REEL_RATE_LIMIT_WINDOW_SECONDS": "\(window)",
            ])
        #expect(await local.wait() == 0, "\(local.output)")
        #expect(fake.generateCalls.count == 6)
        // The budget's own record (the database's clock): no three grants within one window.
        let grants = try await setup.pool.query(
            "SELECT extract(epoch FROM at)::double precision FROM rate_limit_events ORDER BY at"
        ).map { try $0.decode(Double.self, at: 0) }
        #expect(grants.count == 6)
        for index in 0..<max(0, grants.count - 2) {
            #expect(grants[index + 2] - grants[index] >= window, "grants \(index)…\(index + 2): \(grants)")
        }
        // And as the server saw them (with slack for the trip from a busy worker to the server).
        let calls = fake.generateCalls.sorted()
        for index in 0..<max(0, calls.count - 2) {
            #expect(calls[index + 2].timeIntervalSince(calls[index]) >= window - 0.5, "calls \(index)…\(index + 2)")
        }
        let workers = try await setup.pool.query(
            "SELECT count(DISTINCT fields->>'worker')::bigint FROM job_logs WHERE message = 'analyze started'")
        #expect(try workers.first?.decode(Int.self, at: 0) ?? 0 >= 2, "the budget was shared by several processes")
        await setup.pool.close()
    }

    @Test func reelAnalyzePrintsTheDocumentedJSON() async throws {
        let fake = try FakeGemini()
        defer { fake.stop() }
        let directory = try TemporaryDirectory(prefix: "analyze")
        let sample = try await SampleMedia.sample(in: directory, seconds: 4)
        var environment = ProcessInfo.processInfo.environment
        environment["GEMINI_API_KEY"] = fake.apiKey
        environment["REEL_GEMINI_ENDPOINT"] = fake.endpoint
        let result = try await ProcessRunner.capture(
            ReelPaths.reelBinary, ["analyze", sample, "--provider", "gemini", "--inline-max-bytes", "1000", "--json"],
            environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["provider"] as? String == "gemini" && json["model"] as? String == "gemini-2.5-flash")
        let scenes = try #require(json["scenes"] as? [[String: Any]])
        #expect(scenes.map { $0["start"] as? Double } == [0, 2])
        #expect(scenes.map { $0["modelStart"] as? Double } == [0, 2.3])
        #expect(Set(scenes[0].keys) == ["start", "end", "modelStart", "description", "labels", "importance"])
        #expect(json["usage"] as? [String: Int] == ["promptTokens": 1290, "outputTokens": 180, "requests": 1])
        #expect(fake.requests.contains { $0.command == "start" }, "over 1000 bytes: the resumable upload")
        #expect(!(result.stdout + result.stderr).contains(fake.apiKey))
        let local = try await ReelPaths.reel(["analyze", sample, "--json"])
        #expect(
            (try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any])?["provider"] as? String
                == "local")
    }
}
