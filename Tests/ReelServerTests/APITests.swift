import Foundation
import ReelAPI
import ReelCore
import ReelHTTP
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelServer

@Suite("REST API")
struct APITests {
    @Test func tokensRolesAndTenantsGateEveryCall() async throws {
        let api = try await APIFixture.start("api-auth")
        let viewer = try await api.token("media", .viewer)
        let editor = try await api.token("media", .editor)
        let outsider = try await api.token("other", .admin)

        let anonymous = try await api.call("GET", "/api/jobs", token: nil, headers: [("X-Request-Id", "trace-42")])
        #expect(anonymous.status == 401)
        #expect(anonymous.string("kind") == "Status" && anonymous.string("reason") == "Unauthorized")
        #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(anonymous.header("X-Request-Id") == "trace-42")
        #expect(try await api.call("GET", "/api/jobs", token: "reel_not-a-token").status == 401)
        #expect(try await api.call("GET", "/api/jobs", token: viewer).status == 200)
        #expect(try await api.call("GET", "/api/jobs", token: viewer).header("X-Request-Id")?.count == 36)

        let refused = try await api.call("POST", "/api/jobs", token: viewer, json: APIFixture.job("a"))
        #expect(refused.status == 403 && refused.string("reason") == "Forbidden")
        let created = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job("a"))
        #expect(created.status == 201, "\(created.text)")
        let uid = try #require(created.string("metadata.uid"))
        #expect(created.string("metadata.namespace") == "media")
        #expect(created.header("Location") == "/api/jobs/\(uid)")

        // Another tenant never learns the job exists: 404 by uid and by name, and an empty list.
        for path in ["/api/jobs/\(uid)", "/api/jobs/media/a", "/api/jobs/\(uid)/logs", "/api/jobs/\(uid)/chunks"] {
            #expect(try await api.call("GET", path, token: outsider).status == 404, "\(path)")
        }
        #expect(try await api.call("DELETE", "/api/jobs/\(uid)", token: outsider).status == 404)
        #expect(try await api.call("GET", "/api/jobs", token: outsider).count == 0)
        #expect(try await api.call("GET", "/api/jobs/\(uid)", token: viewer).string("metadata.name") == "a")
        // Naming another namespace in the body is refused, not obeyed.
        let elsewhere = try await api.call(
            "POST", "/api/jobs", token: editor,
            json: #"{"metadata":{"namespace":"other"},"spec":{"source":{"uri":"https://x/a.mp4"}}}"#)
        #expect(elsewhere.status == 403)

        // The audit log is the admin's, of the admin's namespace, and holds refusals too.
        #expect(try await api.call("GET", "/api/audit", token: editor).status == 403)
        let admin = try await api.token("media", .admin)
        let audit = try await api.call("GET", "/api/audit", token: admin)
        let codes =
            (audit.value("items").flatMap { value -> [String]? in
                guard case .array(let items) = value else { return nil }
                return items.compactMap { item in
                    guard case .object(let fields) = item, case .int(let code)? = fields["code"],
                        case .string(let verb)? = fields["verb"]
                    else { return nil }
                    return "\(verb) \(code)"
                }
            }) ?? []
        #expect(codes == ["create 403", "create 201", "create 403"], "\(audit.text)")
        #expect(try await api.call("GET", "/api/audit", token: outsider).count == 1)  // the outsider's own DELETE
        await api.stop()
    }

    @Test func invalidJobsListEveryProblemAsValidateWould() async throws {
        let api = try await APIFixture.start("api-invalid", fileRoots: ["/srv/videos"])
        let editor = try await api.token("media", .editor)
        let body = #"{"metadata":{"name":"Bad_Name"},"spec":{"priority":"soon","split":{"targetSeconds":0},"extra":1}}"#
        let reply = try await api.call("POST", "/api/jobs", token: editor, json: body)
        #expect(reply.status == 422 && reply.string("reason") == "Invalid")
        // The same problems, with the same messages, that `reel validate` reports for the same document.
        var object = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
        if case .object(var fields) = object {
            fields["apiVersion"] = .string(API.version)
            fields["kind"] = "VideoJob"
            if case .object(var meta)? = fields["metadata"] {
                meta["namespace"] = "media"
                fields["metadata"] = .object(meta)
            }
            object = .object(fields)
        }
        guard case .invalid(let problems) = ResourceDecoder.decode(json: object) else {
            Issue.record("the document should be invalid")
            return
        }
        guard case .array(let causes)? = reply.value("details.causes") else {
            Issue.record("no causes: \(reply.text)")
            return
        }
        let got = Set(
            causes.compactMap { cause -> String? in
                guard case .object(let fields) = cause, case .string(let message)? = fields["message"] else {
                    return nil
                }
                let field = fields["field"].flatMap { if case .string(let f) = $0 { f } else { nil } } ?? ""
                return "\(field): \(message)"
            })
        #expect(got == Set(problems.map { "\($0.path): \($0.message)" }))
        #expect(problems.count >= 4)

        #expect(try await api.call("POST", "/api/jobs", token: editor, json: "{not json").status == 400)
        let huge = APIFixture.job("big", spec: #""title":"\#(String(repeating: "x", count: 1 << 20))""#)
        let tooLarge = try await api.call("POST", "/api/jobs", token: editor, json: huge)
        #expect(tooLarge.status == 413 && tooLarge.string("kind") == "Status")
        // A server file is not an HTTP caller's to name, unless under a root the server allows.
        let file = try await api.call(
            "POST", "/api/jobs", token: editor, json: #"{"spec":{"source":{"uri":"file:///etc/passwd"}}}"#)
        #expect(file.status == 403 && file.string("details.causes.0.field") == "spec.source.uri")
        let allowed = try await api.call(
            "POST", "/api/jobs", token: editor, json: #"{"spec":{"source":{"uri":"file:///srv/videos/a.mp4"}}}"#)
        #expect(allowed.status == 201)
        #expect(allowed.string("metadata.name")?.hasPrefix("job-") == true)
        let taken = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job("same"))
        #expect(taken.status == 201)
        let again = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job("same"))
        #expect(again.status == 409 && again.string("reason") == "AlreadyExists")
        await api.stop()
    }

    @Test func idempotencyKeysReplayTheFirstAnswer() async throws {
        let api = try await APIFixture.start("api-idempotent")
        let editor = try await api.token("media", .editor)
        let key = [("Idempotency-Key", "upload-7")]
        let first = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job(nil), headers: key)
        let second = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job(nil), headers: key)
        #expect(first.status == 201 && second.status == 201)
        #expect(first.string("metadata.uid") == second.string("metadata.uid"))
        #expect(second.header("Idempotent-Replayed") == "true")
        #expect(try await api.call("GET", "/api/jobs", token: editor).count == 1)
        let different = try await api.call(
            "POST", "/api/jobs", token: editor, json: APIFixture.job("other"), headers: key)
        #expect(different.status == 422 && different.string("reason") == "IdempotencyKeyReused")
        // Keys are per tenant: the same key elsewhere is a new request.
        let outsider = try await api.token("other", .editor)
        let theirs = try await api.call("POST", "/api/jobs", token: outsider, json: APIFixture.job(nil), headers: key)
        #expect(theirs.status == 201 && theirs.string("metadata.uid") != first.string("metadata.uid"))
        await api.stop()
    }

    @Test func listingIsNewestFirstFilteredAndPaged() async throws {
        let api = try await APIFixture.start("api-list")
        let editor = try await api.token("media", .editor)
        var names: [String] = []
        for index in 0..<7 {
            let team = index % 2 == 0 ? "red" : "blue"
            let spec = #""title":"Clip \#(index)\#(index == 3 ? " keynote" : "")","owner":"user-\#(index % 3)""#
            let reply = try await api.call(
                "POST", "/api/jobs", token: editor,
                json: APIFixture.job("clip-\(index)", labels: ["team": team], spec: spec))
            #expect(reply.status == 201)
            names.append("clip-\(index)")
        }
        var seen: [String] = []
        var next: String? = ""
        var pages = 0
        while let token = next {
            let page = try await api.call(
                "GET", "/api/jobs?limit=3" + (token.isEmpty ? "" : "&continue=\(token)"), token: editor)
            #expect(page.status == 200)
            for index in 0..<page.count { seen.append(page.string("items.\(index).metadata.name") ?? "?") }
            next = page.string("metadata.continue")
            pages += 1
        }
        #expect(pages == 3)
        #expect(seen == names.reversed())
        func listed(_ query: String) async throws -> [String] {
            let reply = try await api.call("GET", "/api/jobs?\(query)", token: editor)
            return (0..<reply.count).compactMap { reply.string("items.\($0).metadata.name") }
        }
        #expect(try await listed("labelSelector=team%3Dred").count == 4)
        #expect(try await listed("labelSelector=team%20in%20(blue),team!%3Dred") == ["clip-5", "clip-3", "clip-1"])
        #expect(try await listed("owner=user-0") == ["clip-6", "clip-3", "clip-0"])
        #expect(try await listed("q=KEYNOTE") == ["clip-3"])
        #expect(try await listed("phase=Pending").count == 7)
        #expect(try await listed("phase=Succeeded").isEmpty)
        #expect(try await api.call("GET", "/api/jobs?continue=garbage!", token: editor).status == 400)
        #expect(try await api.call("GET", "/api/jobs?limit=0", token: editor).status == 400)
        #expect(try await api.call("GET", "/api/jobs?labelSelector=a%20in%20b", token: editor).status == 400)
        await api.stop()
    }

    @Test func patchIsAMergeGuardedByVersionsAndDeleteCancels() async throws {
        let api = try await APIFixture.start("api-patch")
        let editor = try await api.token("media", .editor)
        let created = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job("clip"))
        let uid = try #require(created.string("metadata.uid"))
        let version = try #require(created.string("metadata.resourceVersion"))

        let relabelled = try await api.call(
            "PATCH", "/api/jobs/\(uid)", token: editor, json: #"{"metadata":{"labels":{"tier":"gold"}}}"#,
            headers: [("If-Match", "\"\(version)\"")])
        #expect(relabelled.status == 200 && relabelled.string("metadata.labels.tier") == "gold")
        #expect(relabelled.string("metadata.generation") == "1")  // labels are not the spec
        let stale = try await api.call(
            "PATCH", "/api/jobs/\(uid)", token: editor, json: #"{"spec":{"priority":"high"}}"#,
            headers: [("If-Match", version)])
        #expect(stale.status == 409 && stale.string("reason") == "Conflict")
        let malformed = try await api.call(
            "PATCH", "/api/jobs/\(uid)", token: editor, json: #"{"spec":{"priority":"high"}}"#,
            headers: [("If-Match", "*yesterday*")])
        #expect(malformed.status == 412)
        let raised = try await api.call(
            "PATCH", "/api/jobs/media/clip", token: editor, json: #"{"spec":{"priority":"high","title":null}}"#)
        #expect(raised.status == 200 && raised.string("spec.priority") == "high")
        #expect(raised.string("spec.title") == nil && raised.string("metadata.generation") == "2")
        #expect(raised.string("metadata.labels.tier") == "gold")
        let invalid = try await api.call(
            "PATCH", "/api/jobs/\(uid)", token: editor, json: #"{"status":{"phase":"Succeeded"}}"#)
        #expect(invalid.status == 422 && invalid.string("details.causes.0.field") == "status")

        // A resource a file declares is the file's: the API does not change or delete it.
        try await api.service.resources.apply(
            ResourceKey(kind: "VideoJob", namespace: "media", name: "from-file"), labels: nil, annotations: nil,
            spec: try JSONDocument(encoding: VideoJobSpec(source: SourceSpec(uri: "https://x/a.mp4"))),
            sourceFile: "/repo/jobs.yaml")
        let fromFile = try await api.call("PATCH", "/api/jobs/media/from-file", token: editor, json: #"{"spec":{}}"#)
        #expect(fromFile.status == 409 && fromFile.text.contains("/repo/jobs.yaml"))
        #expect(try await api.call("DELETE", "/api/jobs/media/from-file", token: editor).status == 409)

        let deleted = try await api.call("DELETE", "/api/jobs/\(uid)", token: editor)
        #expect(deleted.status == 202, "\(deleted.text)")
        #expect(try await api.call("GET", "/api/jobs/\(uid)", token: editor).status == 404)
        #expect(try await api.call("DELETE", "/api/jobs/\(uid)", token: editor).status == 404)
        await api.stop()
    }

    @Test func signedLinksExpireResistTamperingAndServeRanges() async throws {
        let api = try await APIFixture.start("api-files")
        let bytes = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        _ = try await api.store.put("jobs/u1/render.mp4", data: bytes)
        let url = try await api.files.url(
            for: "jobs/u1/render.mp4", expires: Date().addingTimeInterval(60), base: api.base)
        let whole = try await HTTPClient.send(HTTPRequest(url: url))
        #expect(whole.status == 200 && whole.body == bytes)
        #expect(whole.header("Content-Type") == "video/mp4" && whole.header("Content-Length") == "100000")
        let etag = try #require(whole.header("ETag"))
        let part = try await HTTPClient.send(HTTPRequest(url: url, headers: [("Range", "bytes=1000-1999")]))
        #expect(part.status == 206 && part.body == bytes[1000..<2000])
        #expect(part.header("Content-Range") == "bytes 1000-1999/100000")
        let tail = try await HTTPClient.send(HTTPRequest(url: url, headers: [("Range", "bytes=-10")]))
        #expect(tail.status == 206 && tail.body == bytes.suffix(10))
        let beyond = try await HTTPClient.send(HTTPRequest(url: url, headers: [("Range", "bytes=200000-")]))
        #expect(beyond.status == 416 && beyond.header("Content-Range") == "bytes */100000")
        let cached = try await HTTPClient.send(HTTPRequest(url: url, headers: [("If-None-Match", etag)]))
        #expect(cached.status == 304)
        let head = try await HTTPClient.send(HTTPRequest(method: "HEAD", url: url))
        #expect(head.status == 200 && head.header("Content-Length") == "100000")

        // Tampered key, signature or expiry, and an expired link: 403.
        let expired = try await api.files.url(
            for: "jobs/u1/render.mp4", expires: Date().addingTimeInterval(-1), base: api.base)
        let later = url.replacingOccurrences(of: "expires=", with: "expires=9")
        for bad in [
            url.replacingOccurrences(of: "u1/render", with: "u2/render"), url + "x", later, expired,
            api.base + "/files/jobs/u1/render.mp4",
        ] {
            let reply = try await HTTPClient.send(HTTPRequest(url: bad))
            #expect(reply.status == 403, "\(bad)")
        }
        let missing = try await api.files.url(
            for: "jobs/u1/none.mp4", expires: Date().addingTimeInterval(60), base: api.base)
        #expect(try await HTTPClient.send(HTTPRequest(url: missing)).status == 404)
        await api.stop()
    }

    @Test func eventsAreTenantScopedFilteredAndResumeWithoutLoss() async throws {
        let api = try await APIFixture.start("api-events", heartbeat: .milliseconds(300))
        let viewer = try await api.token("media", .viewer)
        let events = api.service.events
        let stream = EventStream(api.base + "/api/events?types=job,log", token: viewer)
        // Subscribed once the stream's head arrived; events published after it are delivered.
        _ = await stream.wait { _ in stream.status != nil }
        #expect(stream.status == 200)
        for index in 1...3 {
            try await events.publish(
                namespace: "media", type: "job.changed", jobUID: "u\(index)",
                data: JSONDocument(text: #"{"n":\#(index)}"#))
        }
        try await events.publish(namespace: "other", type: "job.changed", jobUID: "secret", data: .emptyObject)
        try await events.publish(namespace: "media", type: "queue.other", jobUID: nil, data: .emptyObject)
        let first = await stream.wait { frames in frames.filter { $0.id != nil }.count >= 3 }
        #expect(first.filter { $0.id != nil }.map(\.event) == ["job.changed", "job.changed", "job.changed"])
        #expect(!first.contains { $0.data.contains("secret") })
        #expect(await stream.wait { $0.contains { $0.event == "heartbeat" } }.contains { $0.event == "heartbeat" })
        let lastSeen = try #require(stream.events.last?.id)
        stream.close()

        // While disconnected, more happens; a client resuming from the last id it saw gets exactly the rest.
        for index in 4...6 {
            try await events.publish(
                namespace: "media", type: "job.changed", jobUID: "u\(index)",
                data: JSONDocument(text: #"{"n":\#(index)}"#))
        }
        let resumed = EventStream(api.base + "/api/events?types=job", token: viewer, lastEventID: lastSeen)
        try await events.publish(namespace: "media", type: "job.deleted", jobUID: "u7", data: .emptyObject)
        let rest = await resumed.wait { frames in frames.filter { $0.id != nil }.count >= 4 }
        let received = rest.filter { $0.id != nil }
        #expect(received.map(\.data).map { $0.contains("\"job\":\"u") } == [true, true, true, true])
        #expect(received.compactMap(\.id) == received.compactMap(\.id).sorted())
        #expect(Set(received.compactMap(\.id)).count == received.count)
        #expect(received.map(\.event) == ["job.changed", "job.changed", "job.changed", "job.deleted"])
        resumed.close()

        // One job's events only.
        let oneJob = EventStream(api.base + "/api/events?job=u9", token: viewer)
        _ = await oneJob.wait { _ in oneJob.status != nil }
        try await events.publish(namespace: "media", type: "job.changed", jobUID: "u8", data: .emptyObject)
        try await events.publish(namespace: "media", type: "log", jobUID: "u9", data: .emptyObject)
        let only = await oneJob.wait { frames in frames.contains { $0.event == "log" } }
        #expect(only.filter { $0.id != nil }.map(\.event) == ["log"])
        oneJob.close()
        await api.stop()
    }

    @Test func statsWorkersHealthMetricsAndTheOpenAPIDocument() async throws {
        let api = try await APIFixture.start("api-ops")
        let viewer = try await api.token("media", .viewer)
        let stats = try await api.call("GET", "/api/queue/stats", token: viewer)
        #expect(stats.status == 200 && stats.value("completed.lastMinute") == .int(0))
        #expect(try await api.call("GET", "/api/workers", token: viewer).status == 200)
        #expect(try await api.call("GET", "/healthz", token: nil).text == "ok\n")
        #expect(try await api.call("GET", "/readyz", token: nil).status == 200)
        let unknown = try await api.call("GET", "/api/nothing-here", token: viewer)
        #expect(unknown.status == 404 && unknown.string("kind") == "Status")
        let metrics = try await api.call("GET", "/metrics", token: nil).text
        #expect(metrics.contains("/api/queue/stats"), "request counts by route: \(metrics.prefix(2000))")
        // The served document is the committed one (regenerate with hack/generate.sh).
        let served = try await api.call("GET", "/api/openapi.json", token: nil)
        let committed = try String(contentsOfFile: ReelPaths.packageRoot.path + "/docs/openapi.json", encoding: .utf8)
        #expect(served.text == committed, "docs/openapi.json is stale: run hack/generate.sh")
        #expect(served.string("openapi") == "3.1.0")
        #expect(served.value("components.schemas.VideoJob.properties.spec") != nil)
        await api.stop()
    }

    /// What schemathesis found against the live server, each pinned: malformed metadata is reported, not
    /// replaced; empty text filters are absent but an empty number is not a number; undeclared methods on
    /// known paths get 405 with Allow; long idempotency keys are refused; a key whose job was deleted is free.
    @Test func whatTheFuzzerFoundStaysFixed() async throws {
        let api = try await APIFixture.start("api-fuzz")
        let editor = try await api.token("media", .editor)
        for body in [
            #"{"metadata":[null,null],"spec":{"source":{"uri":"https://x/a.mp4"}}}"#,
            #"{"metadata":{"namespace":{}},"spec":{"source":{"uri":"https://x/a.mp4"}}}"#,
            #"{"metadata":{"name":7},"spec":{"source":{"uri":"https://x/a.mp4"}}}"#,
            #"{"apiVersion":"","spec":{"source":{"uri":"https://x/a.mp4"}}}"#,
        ] {
            let reply = try await api.call("POST", "/api/jobs", token: editor, json: body)
            #expect(reply.status == 422, "\(body) → \(reply.status) \(reply.text)")
        }
        let withNulls =
            #"{"metadata":{"name":null},"spec":{"source":{"uri":"https://x/a.mp4"},"title":null},"status":null}"#
        #expect(try await api.call("POST", "/api/jobs", token: editor, json: withNulls).status == 201)
        #expect(try await api.call("GET", "/api/jobs?continue=&phase=&owner=", token: editor).status == 200)
        #expect(try await api.call("GET", "/api/jobs?limit=", token: editor).status == 400)
        let trace = try await api.call("TRACE", "/api/jobs/some-uid/logs", token: editor)
        #expect(trace.status == 405 && trace.header("Allow") == "GET", "\(trace.text)")
        #expect(try await api.call("PUT", "/api/jobs", token: editor).header("Allow") == "GET, POST")
        let longKey = [("Idempotency-Key", String(repeating: "k", count: 256))]
        #expect(
            try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job(nil), headers: longKey).status
                == 400)
        let key = [("Idempotency-Key", "again")]
        let first = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job(nil), headers: key)
        let uid = try #require(first.string("metadata.uid"))
        #expect(try await api.call("DELETE", "/api/jobs/\(uid)", token: editor).status == 202)
        let second = try await api.call("POST", "/api/jobs", token: editor, json: APIFixture.job(nil), headers: key)
        #expect(
            second.status == 201 && second.string("metadata.uid") != uid && second.header("Idempotent-Replayed") == nil)
        await api.stop()
    }
}

@Suite("REST API: workers")
struct WorkerActionTests {
    @Test func adminsScalePoolsAndDrainWorkers() async throws {
        let api = try await APIFixture.start("api-workers")
        let admin = try await api.token("default", .admin)
        let editor = try await api.token("default", .editor)
        let scale = #"{"action":"scale","pool":"render","minReplicas":1,"maxReplicas":5}"#
        #expect(try await api.call("POST", "/api/workers", token: editor, json: scale).status == 403)
        // A default pool becomes a declared one, which the autoscaler reads like a file's.
        let declared = try await api.call("POST", "/api/workers", token: admin, json: scale)
        #expect(declared.status == 200, "\(declared.text)")
        let pools = try await api.service.resources.list(kind: "WorkerPool")
        let pool = try #require(pools.first).workerPool()
        #expect(pool.metadata.name == "render" && pool.spec.stages == [.render])
        #expect(pool.spec.minReplicas == 1 && pool.spec.maxReplicas == 5)
        let again = try await api.call(
            "POST", "/api/workers", token: admin, json: #"{"action":"scale","pool":"render","maxReplicas":2}"#)
        #expect(
            again.status == 200 && again.value("spec.maxReplicas") == .int(2)
                && again.value("spec.minReplicas") == .int(1))
        let inverted = try await api.call(
            "POST", "/api/workers", token: admin, json: #"{"action":"scale","pool":"render","minReplicas":9}"#)
        #expect(inverted.status == 422, "\(inverted.text)")
        #expect(
            try await api.call("POST", "/api/workers", token: admin, json: #"{"action":"scale","pool":"nope"}"#).status
                == 404)

        // Drain: the worker learns it on its next heartbeat.
        try await api.service.workers.register(id: "w1", stages: [.render], hostname: "h", pid: 1, pool: "render")
        #expect(try await api.service.workers.beat(id: "w1", completed: 0, failed: 0) == false)
        let drain = try await api.call("POST", "/api/workers", token: admin, json: #"{"action":"drain","worker":"w1"}"#)
        #expect(drain.status == 202)
        #expect(try await api.service.workers.beat(id: "w1", completed: 0, failed: 0) == true)
        #expect(
            try await api.call("POST", "/api/workers", token: admin, json: #"{"action":"drain","worker":"w9"}"#).status
                == 404)
        #expect(try await api.call("POST", "/api/workers", token: admin, json: #"{"action":"explode"}"#).status == 400)
        await api.stop()
    }
}

@Suite("REST API: timeouts")
struct APITimeoutTests {
    /// A request whose statement is stuck (here behind a lock another session holds) is answered 504 with a
    /// `Status` once the API's statement time limit passes, instead of hanging; the next request works.
    @Test func aStuckStatementIsA504NotAHang() async throws {
        let api = try await APIFixture.start("api-timeout", statementTimeout: .milliseconds(300))
        let viewer = try await api.token("media", .viewer)
        let locker = try await PostgresConnection.connect(api.databaseURL)
        try await locker.execute("BEGIN; LOCK TABLE resources IN ACCESS EXCLUSIVE MODE")
        let stuck = try await api.call("GET", "/api/jobs", token: viewer)
        #expect(stuck.status == 504 && stuck.string("reason") == "Timeout", "\(stuck.text)")
        #expect(stuck.header("Retry-After") == "1")
        try await locker.execute("ROLLBACK")
        await locker.close()
        #expect(try await api.call("GET", "/api/jobs", token: viewer).status == 200)
        await api.stop()
    }
}

@Suite("HTTP connection reuse across servers")
struct HandleAffinityTests {
    /// A burst of concurrent requests to one server does not cost another server its open connection: each idle
    /// handle goes back to the origin it last spoke to (the Kubernetes reuse test failed under the API suites'
    /// load before).
    @Test func aBurstElsewhereKeepsThisServersConnection() async throws {
        let a = try await APIFixture.start("affinity-a")
        let b = try await APIFixture.start("affinity-b")
        _ = try await HTTPClient.send(HTTPRequest(url: a.base + "/healthz"))
        let before = HTTPClient.connectionsOpened(to: a.base)
        for _ in 0..<5 {
            // Another server's burst between two calls to this one (as other suites' traffic does).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { _ = try await HTTPClient.send(HTTPRequest(url: b.base + "/healthz")) }
                }
                try await group.waitForAll()
            }
            _ = try await HTTPClient.send(HTTPRequest(url: a.base + "/healthz"))
        }
        #expect(HTTPClient.connectionsOpened(to: a.base) - before == 0)
        await a.stop()
        await b.stop()
    }
}
