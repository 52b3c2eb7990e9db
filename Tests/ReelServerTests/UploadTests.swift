import Crypto
import Foundation
import ReelAPI
import ReelCore
import ReelOperatorApp
import ReelHTTP
import ReelPostgres
import ReelStorage
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelServer

/// tus requests by hand, as curl would send them.
extension APIFixture {
    @discardableResult
    func tus(
        _ method: String, _ path: String, token: String?, body: Data? = nil,
        headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        var all = headers + [("Tus-Resumable", "1.0.0")]
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if body != nil { all.append(("Content-Type", "application/offset+octet-stream")) }
        return Reply(
            response: try await HTTPClient.send(
                HTTPRequest(method: method, url: path.hasPrefix("http") ? path : base + path, headers: all, body: body))
        )
    }

    /// `POST /api/uploads` of `length` bytes (or deferred) with `metadata`; the upload's path.
    func createUpload(token: String, length: Int?, metadata: [String: String] = [:]) async throws -> String {
        let sizes = length.map { [("Upload-Length", "\($0)")] } ?? [("Upload-Defer-Length", "1")]
        let reply = try await tus(
            "POST", "/api/uploads", token: token,
            headers: sizes + [("Upload-Metadata", Tus.metadataHeader(metadata))])
        #expect(reply.status == 201, "\(reply.text)")
        let location = try #require(reply.header("Location"))
        return String(location[try #require(location.range(of: "/api/uploads/"))!.lowerBound...])
    }

    func patch(_ path: String, token: String, offset: Int, _ bytes: Data, extra: [(name: String, value: String)] = [])
        async throws -> Reply
    {
        try await tus("PATCH", path, token: token, body: bytes, headers: [("Upload-Offset", "\(offset)")] + extra)
    }
}

@Suite("tus uploads", .serialized)
struct UploadTests {
    @Test("a video uploaded in chunks becomes a job; HEAD reports the offset, GET the upload")
    func uploadToJob() async throws {
        let fixture = try await APIFixture.start("uploads_job")
        defer { Task { await fixture.stop() } }
        let directory = try TemporaryDirectory()
        let video = try Data(contentsOf: URL(fileURLWithPath: try await SampleMedia.sample(in: directory, seconds: 4)))
        let token = try await fixture.token("media", .editor)
        let path = try await fixture.createUpload(
            token: token, length: video.count, metadata: ["filename": "talk.mp4", "title": "Talk", "priority": "high"])
        let half = video.count / 2
        let first = try await fixture.patch(path, token: token, offset: 0, video.prefix(half))
        #expect(first.status == 204)
        #expect(first.header("Upload-Offset") == "\(half)")
        #expect(first.header("Upload-Expires") != nil)
        let head = try await fixture.tus("HEAD", path, token: token)
        #expect(head.header("Upload-Offset") == "\(half)")
        #expect(head.header("Upload-Length") == "\(video.count)")
        #expect(head.header("Cache-Control") == "no-store")
        let last = try await fixture.patch(path, token: token, offset: half, video.suffix(from: half))
        #expect(last.status == 204, "\(last.text)")
        let jobID = try #require(last.header("Reel-Job-Id"))
        let shown = try await fixture.call("GET", path, token: token)
        #expect(shown.string("state") == "complete")
        #expect(shown.string("job.uid") == jobID)
        #expect(shown.string("uri") == "upload://\(path.split(separator: "/").last!)")
        let job = try await fixture.call("GET", "/api/jobs/\(jobID)", token: token)
        #expect(job.string("spec.source.uri") == shown.string("uri"))
        #expect(job.string("spec.title") == "Talk")
        #expect(job.string("spec.priority") == "high")
        let key = try #require(try await fixture.service.uploads.upload(shown.string("id")!)?.objectKey)
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.store.path(key))) == video)
        let again = #"{"spec":{"title":"Again","source":{"uri":"\#(shown.string("uri")!)"}}}"#
        #expect(try await fixture.call("POST", "/api/jobs", token: token, json: again).status == 201)
    }

    @Test("protocol errors: version 412, wrong offset 409, bad checksum 460 (chunk discarded), too big 413, 415")
    func protocolErrors() async throws {
        let fixture = try await APIFixture.start(
            "uploads_errors",
            uploads: {
                var l = UploadLimits(); l.maxBytes = 1000; return l
            }())
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .editor)
        let path = try await fixture.createUpload(
            token: token, length: 100, metadata: ["filename": "x.mp4", "job": "false"])
        let missing = Reply(
            response: try await HTTPClient.send(
                HTTPRequest(method: "HEAD", url: fixture.base + path, headers: [("Authorization", "Bearer \(token)")])))
        #expect(missing.status == 412)
        #expect(missing.header("Tus-Version") == "1.0.0")
        let chunk = Data(repeating: 1, count: 10)
        #expect(try await fixture.patch(path, token: token, offset: 5, chunk).status == 409)
        let wrong = "sha256 " + Data(SHA256.hash(data: Data("other".utf8))).base64EncodedString()
        let refused = try await fixture.patch(path, token: token, offset: 0, chunk, extra: [("Upload-Checksum", wrong)])
        #expect(refused.status == 460)
        #expect(try await fixture.tus("HEAD", path, token: token).header("Upload-Offset") == "0")
        let right = "sha1 " + Data(Insecure.SHA1.hash(data: chunk)).base64EncodedString()
        let kept = try await fixture.patch(path, token: token, offset: 0, chunk, extra: [("Upload-Checksum", right)])
        #expect(kept.header("Upload-Offset") == "10")
        let unknown = try await fixture.patch(
            path, token: token, offset: 10, chunk, extra: [("Upload-Checksum", "md5 AAAA")])
        #expect(unknown.status == 400)
        let over = try await fixture.patch(path, token: token, offset: 10, Data(repeating: 2, count: 200))
        #expect(over.status == 413)
        let tooBig = try await fixture.tus("POST", "/api/uploads", token: token, headers: [("Upload-Length", "1001")])
        #expect(tooBig.status == 413)
        let plain = try await fixture.tus(
            "PATCH", path, token: token, headers: [("Upload-Offset", "10"), ("Content-Type", "text/plain")])
        #expect(plain.status == 415)
        // creation-with-upload: the first bytes with the POST; refused, the upload still exists to resume.
        let withBody = try await fixture.tus(
            "POST", "/api/uploads", token: token, body: chunk,
            headers: [("Upload-Length", "100"), ("Upload-Checksum", wrong), ("Upload-Metadata", "job ZmFsc2U=")])
        #expect(withBody.status == 460)
        let resumable = try #require(withBody.header("Location"))
        #expect(try await fixture.tus("HEAD", resumable, token: token).header("Upload-Offset") == "0")
        let created = try await fixture.tus(
            "POST", "/api/uploads", token: token, body: chunk,
            headers: [("Upload-Length", "100"), ("Upload-Metadata", "job ZmFsc2U=")])
        #expect(created.status == 201 && created.header("Upload-Offset") == "10")
        let options = try await fixture.tus("OPTIONS", "/api/uploads", token: nil)
        #expect(options.header("Tus-Extension")?.contains("creation-defer-length") == true)
        #expect(options.header("Tus-Checksum-Algorithm") == "sha1,sha256")
        #expect(options.header("Tus-Max-Size") == "1000")
    }

    @Test("another tenant's upload is 404; a second writer at once is 409; a viewer may not write")
    func tenantsAndWriters() async throws {
        let fixture = try await APIFixture.start("uploads_tenants")
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .editor)
        let other = try await fixture.token("rivals", .editor)
        let viewer = try await fixture.token("media", .viewer)
        let path = try await fixture.createUpload(token: token, length: 20, metadata: ["job": "false"])
        #expect(try await fixture.tus("HEAD", path, token: other).status == 404)
        #expect(try await fixture.patch(path, token: other, offset: 0, Data(count: 5)).status == 404)
        #expect(try await fixture.call("GET", path, token: other).status == 404)
        #expect(try await fixture.tus("DELETE", path, token: other).status == 404)
        #expect(try await fixture.patch(path, token: viewer, offset: 0, Data(count: 5)).status == 403)
        let id = String(path.split(separator: "/").last!)
        // A job may read only a complete upload of its own namespace, refused before it exists.
        let reader = #"{"spec":{"source":{"uri":"upload://\#(id)"}}}"#
        let early = try await fixture.call("POST", "/api/jobs", token: token, json: reader)
        #expect(early.status == 422 && early.text.contains("is not complete"), "\(early.text)")
        let foreign = try await fixture.call("POST", "/api/jobs", token: other, json: reader)
        #expect(foreign.status == 422 && foreign.text.contains("does not exist in namespace rivals"))
        // A request holding the writer's lease (as one streaming a large chunk would).
        let claim = try await fixture.api.tenant("media").claimUpload(id, writer: "busy", lease: .seconds(60))
        guard case .claimed = claim else { Issue.record("no claim: \(claim)"); return }
        #expect(try await fixture.patch(path, token: token, offset: 0, Data(count: 5)).status == 409)
        try await fixture.api.tenant("media").releaseUpload(id, writer: "busy")
        #expect(try await fixture.patch(path, token: token, offset: 0, Data(count: 5)).status == 204)
    }

    @Test("a text file named .mp4 is InvalidMedia: no job, the reason kept, the bytes removed")
    func invalidMedia() async throws {
        let fixture = try await APIFixture.start("uploads_invalid")
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .editor)
        let text = Data("just some text, not a video\n".utf8)
        let path = try await fixture.createUpload(
            token: token, length: text.count, metadata: ["filename": "fake.mp4", "title": "Fake"])
        let reply = try await fixture.patch(path, token: token, offset: 0, text)
        #expect(reply.status == 422)
        #expect(reply.string("reason") == "InvalidMedia")
        #expect(reply.string("message")?.contains("fake.mp4 is not a video") == true)
        let shown = try await fixture.call("GET", path, token: token)
        #expect(shown.string("state") == "invalid")
        #expect(shown.string("reason") == "InvalidMedia")
        #expect(try await fixture.call("GET", "/api/jobs", token: token).count == 0)
        let key = try #require(try await fixture.service.uploads.upload(shown.string("id")!)?.objectKey)
        #expect(!FileManager.default.fileExists(atPath: fixture.store.path(key)))
    }

    @Test("defer-length, termination, the quota, and expiry (the housekeeping removes bytes and row)")
    func lifecycle() async throws {
        var limits = UploadLimits()
        limits.tenantQuota = 100
        let fixture = try await APIFixture.start("uploads_lifecycle", uploads: limits)
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .editor)
        let deferred = try await fixture.createUpload(token: token, length: nil, metadata: ["job": "false"])
        #expect(try await fixture.tus("HEAD", deferred, token: token).header("Upload-Defer-Length") == "1")
        #expect(try await fixture.patch(deferred, token: token, offset: 0, Data(count: 30)).status == 204)
        let declared = try await fixture.patch(
            deferred, token: token, offset: 30, Data(count: 10), extra: [("Upload-Length", "50")])
        #expect(declared.status == 204)
        #expect(try await fixture.tus("HEAD", deferred, token: token).header("Upload-Length") == "50")
        // 50 of the quota's 100 are held: 60 more do not fit.
        let refused = try await fixture.tus("POST", "/api/uploads", token: token, headers: [("Upload-Length", "60")])
        #expect(refused.status == 413)
        #expect(refused.string("reason") == "QuotaExceeded")
        #expect(try await fixture.tus("DELETE", deferred, token: token).status == 204)
        #expect(try await fixture.tus("HEAD", deferred, token: token).status == 404)
        let stale = try await fixture.createUpload(token: token, length: 60, metadata: ["job": "false"])
        #expect(try await fixture.patch(stale, token: token, offset: 0, Data(count: 10)).status == 204)
        let id = String(stale.split(separator: "/").last!)
        let key = try #require(try await fixture.service.uploads.upload(id)?.objectKey)
        #expect(FileManager.default.fileExists(atPath: fixture.store.path(key) + ".partial-upload"))
        let connection = try await PostgresConnection.connect(fixture.databaseURL)
        try await connection.query("UPDATE uploads SET expires_at = now() - interval '1 minute' WHERE id = $1", [id])
        await connection.close()
        #expect(try await fixture.tus("HEAD", stale, token: token).status == 404)
        #expect(try await fixture.patch(stale, token: token, offset: 10, Data(count: 5)).status == 404)
        #expect(try await UploadExpiry.remove(fixture.service, store: fixture.store) == 1)
        #expect(try await fixture.service.uploads.upload(id) == nil)
        #expect(!FileManager.default.fileExists(atPath: fixture.store.path(key) + ".partial-upload"))
    }
}

@Suite("tus uploads from other clients", .serialized)
struct UploadClientTests {
    @Test("tuspy (an independent client): checksums, interrupt and resume, defer-length, termination, expiry")
    func tuspy() async throws {
        let fixture = try await APIFixture.start("uploads_tuspy")
        defer { Task { await fixture.stop() } }
        let directory = try TemporaryDirectory()
        let video = try await SampleMedia.sample(in: directory, seconds: 4)
        let token = try await fixture.token("media", .editor)
        let script = ReelPaths.packageRoot.appendingPathComponent("Tests/Fixtures/tus/tuspy_check.py").path
        let run = try await ProcessRunner.capture(ReelPaths.python, [script, fixture.base, token, video])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let line = try #require(run.stdout.split(separator: "\n").last)
        let summary = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        guard case .object(let fields) = summary, case .string(let job)? = fields["job"] else {
            Issue.record("no job in \(line)")
            return
        }
        let shown = try await fixture.call("GET", "/api/jobs/\(job)", token: token)
        #expect(shown.string("spec.source.uri")?.hasPrefix("upload://") == true)
    }

    @Test("POST /api/upload/queue: one multipart request makes the upload and the job; bad options refuse it")
    func multipartQueue() async throws {
        let fixture = try await APIFixture.start("uploads_queue")
        defer { Task { await fixture.stop() } }
        let directory = try TemporaryDirectory()
        let video = try Data(contentsOf: URL(fileURLWithPath: try await SampleMedia.sample(in: directory, seconds: 4)))
        let token = try await fixture.token("media", .editor)
        func form(_ job: String) -> Data {
            let boundary = "reel-boundary-42"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"job\"\r\n\r\n\(job)\r\n".utf8)
            body += Data(
                ("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
                    + "Content-Type: video/mp4\r\n\r\n").utf8)
            body += video + Data("\r\n--\(boundary)--\r\n".utf8)
            return body
        }
        func post(_ body: Data) async throws -> Reply {
            Reply(
                response: try await HTTPClient.send(
                    HTTPRequest(
                        method: "POST", url: fixture.base + "/api/upload/queue",
                        headers: [
                            ("Authorization", "Bearer \(token)"),
                            ("Content-Type", "multipart/form-data; boundary=reel-boundary-42"),
                        ], body: body)))
        }
        let made = try await post(form(#"{"title":"Queued","priority":"urgent","splitSeconds":2}"#))
        #expect(made.status == 201, "\(made.text)")
        #expect(made.string("job.spec.title") == "Queued")
        #expect(made.string("job.spec.split.targetSeconds") == "2")
        #expect(made.string("upload.state") == "complete")
        #expect(made.string("upload.length") == "\(video.count)")
        #expect(made.string("job.spec.source.uri") == "upload://\(made.string("upload.id") ?? "")")
        let refused = try await post(form(#"{"priority":"whenever"}"#))
        #expect(refused.status == 422)
        #expect(try await fixture.call("GET", "/api/jobs", token: token).count == 1)
        #expect(try await fixture.call("GET", "/api/uploads", token: token).count == 1)
    }
}

@Suite("tus uploads into S3", .serialized)
struct S3UploadTests {
    @Test("an upload into S3 goes up in parts as they fill, is probed through a presigned URL and becomes a job")
    func uploadIntoS3() async throws {
        let moto = try await MotoServer(authenticated: false)  // moto answers presigned URLs only without auth
        let location = S3Location(bucket: moto.bucket, prefix: "reel/", region: "us-east-1", endpoint: moto.endpoint)
        let credentials = AWSCredentials(accessKeyID: moto.accessKeyID, secretAccessKey: moto.secretAccessKey)
        let scratch = try TemporaryDirectory(prefix: "s3-scratch")
        var store = S3Store(
            client: S3Client(location: location, credentials: AWSCredentialProvider(credentials)),
            scratchDirectory: scratch.url.path)
        store.partSize = 5 << 20
        let fixture = try await APIFixture.start("uploads_s3", serving: store)
        defer { Task { await fixture.stop() } }
        let directory = try TemporaryDirectory()
        let path = directory.path("big.mp4")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "8", "-vf", "noise=alls=40:allf=t",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "12M", "-pix_fmt", "yuv420p", path,
        ])
        let video = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(video.count > 10 << 20)
        let token = try await fixture.token("media", .editor)
        let upload = try await fixture.createUpload(
            token: token, length: video.count, metadata: ["filename": "big.mp4", "title": "Into S3"])
        var offset = 0
        var partsSeen: [Int] = []
        while offset < video.count {
            let piece = video[offset..<min(video.count, offset + (3 << 20))]
            let reply = try await fixture.patch(upload, token: token, offset: offset, Data(piece))
            #expect(reply.status == 204, "\(reply.text)")
            offset = Int(reply.header("Upload-Offset") ?? "") ?? -1
            let id = String(upload.split(separator: "/").last!)
            if let row = try await fixture.service.uploads.upload(id), row.state == .receiving {
                partsSeen.append(try row.partial.decode(PartialState.self).parts.count)
            }
        }
        #expect(partsSeen.last ?? 0 >= 1, "parts went up while the upload was incomplete: \(partsSeen)")
        let shown = try await fixture.call("GET", upload, token: token)
        #expect(shown.string("state") == "complete", "\(shown.text)")
        #expect(shown.string("media.streams.0.codec") == "h264")
        #expect(shown.string("job.uid") != nil)
        let key = try #require(try await fixture.service.uploads.upload(shown.string("id")!)?.objectKey)
        try await store.get(key, toFile: directory.path("back.mp4"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.path("back.mp4"))) == video)
    }
}

@Suite("Thumbnails", .serialized)
struct ThumbnailRouteTests {
    @Test("GET /api/jobs/{job}/thumbnails/{t}: a JPEG of the stored source at t; 400, 404 and tenants as for jobs")
    func thumbnails() async throws {
        let fixture = try await APIFixture.start("thumbnails")
        defer { Task { await fixture.stop() } }
        let directory = try TemporaryDirectory()
        let video = try Data(contentsOf: URL(fileURLWithPath: try await SampleMedia.sample(in: directory, seconds: 4)))
        let token = try await fixture.token("media", .viewer)
        let editor = try await fixture.token("media", .editor)
        let other = try await fixture.token("rivals", .viewer)
        let path = try await fixture.createUpload(
            token: editor, length: video.count, metadata: ["filename": "talk.mp4", "name": "talk"])
        let done = try await fixture.patch(path, token: editor, offset: 0, video)
        let uid = try #require(done.header("Reel-Job-Id"))
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/1", token: token).status == 404)
        // What ingest records: the upload's object is the job's source.
        let key = try #require(try await fixture.service.uploads.upload(String(path.split(separator: "/").last!)))
            .objectKey
        let connection = try await PostgresConnection.connect(fixture.databaseURL)
        try await connection.query(
            """
            INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec, source_key, source_duration)
            VALUES ($1, 'media', 'talk', 1, '{}'::jsonb, $2, 4.0)
            """, [uid, key])
        await connection.close()
        let image = try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/2.5?width=160", token: token)
        #expect(image.status == 200, "\(image.text)")
        #expect(image.header("Content-Type") == "image/jpeg")
        #expect(image.response.body.prefix(2) == Data([0xFF, 0xD8]))
        try image.response.body.write(to: URL(fileURLWithPath: directory.path("t.jpg")))
        let shape = try await SampleMedia.ffprobe([
            "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", directory.path("t.jpg"),
        ])
        #expect(shape == ["mjpeg,160"])
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/abc", token: token).status == 400)
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/9", token: token).status == 400)
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/1?width=9999", token: token).status == 400)
        #expect(try await fixture.call("GET", "/api/jobs/\(uid)/thumbnails/1", token: other).status == 404)
        // The job's other routes by namespace and name still resolve.
        #expect(try await fixture.call("GET", "/api/jobs/media/talk/logs", token: token).status == 200)
    }
}
