import Foundation
import ReelAPI
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing

/// `GET /api/jobs/{job}/analysis` and `GET /api/queue/history` on rows written as the pipeline writes them.
@Suite struct DashboardDataTests {
    /// A chunk's stored (absolute) analysis: scenes with their picture signature, cuts inside the chunk, cost.
    static func analysis(_ scenes: [(Double, Double, Double)], cuts: [Double], tokens: Int) -> String {
        let items = scenes.map { start, end, luma in
            #"{"start":\#(start),"end":\#(end),"importance":0.5,"description":"s\#(start)","labels":["x"],"#
                + #""meanLuma":\#(luma),"motion":0.1}"#
        }
        return #"{"analyzer":"gemini","model":"m","summary":"sum","scenes":[\#(items.joined(separator: ","))],"#
            + #""cuts":\#(cuts),"usage":{"promptTokens":\#(tokens),"outputTokens":7,"requests":1}}"#
    }

    @Test(
        "analysis: scenes joined across chunk boundaries as the timeline joins them, cuts between them, cost per chunk")
    func analysis() async throws {
        let fixture = try await APIFixture.start("dashboard_analysis")
        defer { Task { await fixture.stop() } }
        let editor = try await fixture.token("media", .editor)
        let other = try await fixture.token("rivals", .viewer)
        let uid = try #require(
            try await fixture.call("POST", "/api/jobs", token: editor, json: APIFixture.job("talk")).string(
                "metadata.uid"))
        let connection = try await PostgresConnection.connect(fixture.databaseURL)
        let job: Int64 = try await connection.query(
            """
            INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec, source_key, source_duration)
            VALUES ($1, 'media', 'talk', 1, '{}'::jsonb, 'k', 12.0) RETURNING id
            """, [uid]
        ).first!.decode(at: 0)
        // Chunk 0: a cut at 2; its last scene runs into chunk 1 (same picture: joined). Chunk 1: a cut at 7.
        // Chunk 2 starts at 8 on a new picture (a boundary that is a cut), and is not analyzed yet.
        let rows: [(Int, Double, String?, Int)] = [
            (0, 0, Self.analysis([(0, 2, 0.2), (2, 4, 0.5)], cuts: [2], tokens: 100), 100),
            (1, 4, Self.analysis([(4, 7, 0.51), (7, 8, 0.8)], cuts: [7], tokens: 50), 50),
            (2, 8, nil, 0),
        ]
        for (index, start, analysis, tokens) in rows {
            try await connection.query(
                """
                INSERT INTO video_chunks (job_id, chunk_index, start_seconds, start_numerator, start_denominator,
                    duration_seconds, bytes, sha256, storage_key, analysis, analyzed_at, prompt_tokens, output_tokens,
                    requests)
                VALUES ($1, $2, $3, 0, 1, 4, 10, 'h', 'k', $4::jsonb,
                        CASE WHEN $4::text IS NULL THEN NULL ELSE now() END,
                        $5, CASE WHEN $5 > 0 THEN 7 ELSE 0 END, CASE WHEN $5 > 0 THEN 1 ELSE 0 END)
                """, [job, index, start, analysis, tokens])
        }
        await connection.close()
        let reply = try await fixture.call("GET", "/api/jobs/\(uid)/analysis", token: editor)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.value("duration") == .int(12) || reply.value("duration") == .double(12))
        let scenes = try #require(reply.value("scenes"))
        guard case .array(let list) = scenes else { throw Failure("scenes is not a list") }
        #expect(list.count == 3, "\(list)")
        #expect(reply.value("scenes.1.start") == .int(2) && reply.value("scenes.1.end") == .int(7))
        #expect(reply.value("cuts") == .array([.int(2), .int(7)]))
        #expect(reply.value("usage.promptTokens") == .int(150) && reply.value("usage.requests") == .int(2))
        #expect(reply.value("chunks.1.usage.promptTokens") == .int(50))
        #expect(reply.value("chunks.2.analyzer") == nil && reply.value("complete") == .bool(false))
        #expect(try await fixture.call("GET", "/api/jobs/media/talk/analysis", token: editor).status == 200)
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/analysis", token: other).status == 404)
    }

    @Test("queue history: waiting, running and completed per stage at each step, from the tasks' own times")
    func history() async throws {
        let fixture = try await APIFixture.start("dashboard_history")
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .viewer)
        let other = try await fixture.token("rivals", .viewer)
        let connection = try await PostgresConnection.connect(fixture.databaseURL)
        let job: Int64 = try await connection.query(
            """
            INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec)
            VALUES ('u1', 'media', 'talk', 1, '{}'::jsonb) RETURNING id
            """
        ).first!.decode(at: 0)
        // One task waited, ran and succeeded; another has been waiting for 90 s.
        try await connection.query(
            """
            INSERT INTO job_queue (job_id, generation, stage, chunk_index, state, created_at, started_at, finished_at)
            VALUES ($1, 1, 'analyze', 0, 'succeeded', now() - interval '250 s', now() - interval '190 s',
                    now() - interval '130 s'),
                   ($1, 1, 'analyze', 1, 'available', now() - interval '90 s', NULL, NULL)
            """, [job])
        await connection.close()
        let reply = try await fixture.call("GET", "/api/queue/history?minutes=5&step=60", token: token)
        #expect(reply.status == 200, "\(reply.text)")
        guard case .array(let points)? = reply.value("points") else { throw Failure("no points: \(reply.text)") }
        #expect(points.count == 6)
        func counts(_ point: Int) -> [Int] {
            ["waiting", "running", "completed"].map {
                if case .int(let n)? = reply.value("points.\(point).stages.analyze.\($0)") { return n }
                return 0
            }
        }
        #expect((0..<6).map(counts) == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0]])
        let hidden = try await fixture.call("GET", "/api/queue/history?minutes=5&step=60", token: other)
        #expect(hidden.value("points.5.stages.analyze") == nil)
        #expect(try await fixture.call("GET", "/api/queue/history?minutes=0", token: token).status == 400)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
