import Foundation
import ReelHTTP
import ReelSupport
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reel operator --api-addr` against the real kube-apiserver: a job created over HTTP is a VideoJob `kubectl`
/// shows, followed live through `/api/events`, its render fetched through a signed link; edits and deletion go
/// through the API server; another tenant sees nothing.
@Suite(.serialized, .disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct OperatorAPITests {
    @Test func aJobMadeOverHTTPIsAVideoJobOfTheCluster() async throws {
        try await OperatorTests.Cluster.with("op-api") { cluster in
            let media = cluster.directory.path("media")
            let op = try await cluster.startOperator(
                "op-api", ["--api-addr", "127.0.0.1:0", "--api-allow-root", media])
            defer { op.process.send(SIGKILL) }
            let port = try await op.process.apiPort()
            let base = "http://127.0.0.1:\(port)"
            let up = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
                await OperatorTests.httpGet(port, "/healthz")?.status == 200
            }
            #expect(up, "\(op.process.output)")
            func token(_ namespace: String, _ role: String) async throws -> String {
                let created = try await ProcessRunner.capture(
                    try ReelPaths.reelBinary,
                    ["token", "create", "--database-url", cluster.databaseURL, "-n", namespace, "--role", role])
                #expect(created.status == 0, "\(created.stderr)")
                return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let editor = try await token("default", "editor")
            let outsider = try await token("other", "admin")
            let auth = [(name: "Authorization", value: "Bearer \(editor)")]
            let feed = EventStream(base + "/api/events?types=job", token: editor)
            _ = await feed.wait { _ in feed.status != nil }

            let body =
                #"{"metadata":{"name":"webjob","labels":{"via":"api"}},"#
                + #""spec":{"source":{"uri":"file://\#(media)/sample.mp4"},"split":{"targetSeconds":4}}}"#
            let created = try await HTTPClient.send(
                HTTPRequest(method: "POST", url: base + "/api/jobs", headers: auth, body: Data(body.utf8)))
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            // kubectl shows it (its discovery cache may need a moment to learn the kind's short name).
            var shown = ""
            let listed = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
                let result = try await cluster.server.kubectl(["get", "vj", "webjob", "-n", "default", "-o", "json"])
                shown = result.output
                return result.status == 0
            }
            #expect(listed && shown.contains("\"via\": \"api\""), "\(shown)")
            let uid = try #require(
                OperatorTests.field(try await cluster.get("vj", "webjob"), "metadata", "uid") as? String)

            let frames = await feed.wait(timeout: .seconds(240)) { frames in
                frames.contains {
                    $0.data.contains(#""phase": "Succeeded""#) || $0.data.contains(#""phase": "Failed""#)
                }
            }
            #expect(frames.contains { $0.data.contains(#""phase": "Succeeded""#) }, "\(op.process.output)")
            // Another tenant: not found, by uid and by name.
            let hidden = try await HTTPClient.send(
                HTTPRequest(url: base + "/api/jobs/\(uid)", headers: [("Authorization", "Bearer \(outsider)")]))
            #expect(hidden.status == 404)

            let chunks = try await HTTPClient.send(
                HTTPRequest(url: base + "/api/jobs/default/webjob/chunks", headers: auth))
            struct Page: Decodable {
                struct Output: Decodable { var url: String? }
                var outputs: [String: Output]
            }
            let page = try JSONDecoder().decode(Page.self, from: chunks.body)
            let render = try await HTTPClient.send(HTTPRequest(url: try #require(page.outputs["render"]?.url)))
            #expect(render.status == 200 && render.body.count > 10_000)

            // A label edit through the API server keeps the operator's finalizer and the generation.
            let patched = try await HTTPClient.send(
                HTTPRequest(
                    method: "PATCH", url: base + "/api/jobs/\(uid)", headers: auth,
                    body: Data(#"{"metadata":{"labels":{"via":"http"}}}"#.utf8)))
            #expect(patched.status == 200, "\(String(decoding: patched.body, as: UTF8.self))")
            let edited = try await cluster.get("vj", "webjob")
            #expect((OperatorTests.field(edited, "metadata", "labels") as? [String: String])?["via"] == "http")
            #expect((OperatorTests.field(edited, "metadata", "finalizers") as? [String])?.isEmpty == false)

            let deleted = try await HTTPClient.send(
                HTTPRequest(method: "DELETE", url: base + "/api/jobs/\(uid)", headers: auth))
            #expect(deleted.status == 202)
            let gone = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
                try await cluster.get("vj", "webjob") == nil
            }
            #expect(gone)
            let after = await feed.wait(timeout: .seconds(30)) { $0.contains { $0.event == "job.deleted" } }
            #expect(after.contains { $0.event == "job.deleted" })
            feed.close()
            op.process.send(SIGTERM)
            #expect(await op.process.wait() == 0, "\(op.process.output)")
        }
    }
}
