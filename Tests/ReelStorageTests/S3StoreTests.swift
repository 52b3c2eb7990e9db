import Foundation
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelStorage

/// `S3Store` against moto's S3 server with authentication enforced: every request Reel makes is checked against
/// the SigV4 signature of the user's key. Results are read back with boto3.
@Suite(.serialized) struct S3StoreTests {
    static func store(_ moto: MotoServer, prefix: String, secret: String? = nil, bucket: String? = nil) throws
        -> S3Store
    {
        let location = S3Location(
            bucket: bucket ?? moto.bucket, prefix: prefix, region: "us-east-1", endpoint: moto.endpoint)
        let credentials = AWSCredentials(
            accessKeyID: moto.accessKeyID, secretAccessKey: secret ?? moto.secretAccessKey)
        var client = S3Client(location: location, credentials: AWSCredentialProvider(credentials))
        client.attempts = 2
        return S3Store(client: client, scratchDirectory: FileManager.default.temporaryDirectory.path)
    }

    /// A wrong secret is S3's `SignatureDoesNotMatch`, said as such; a missing bucket is a clear startup error.
    @Test func aWrongSecretOrAMissingBucketIsSaidPlainly() async throws {
        let moto = try await MotoServer()
        let wrong = try Self.store(moto, prefix: "p", secret: "not-the-secret")
        await #expect {
            _ = try await wrong.put("a.txt", data: Data("x".utf8))
        } throws: { error in
            let error = error as? StorageError
            return error?.code == .unauthorized && error?.s3Code == "SignatureDoesNotMatch"
                && error?.message.contains("SignatureDoesNotMatch") == true
                && error?.message.contains("not-the-secret") == false
        }
        // A HEAD has no body: the startup check asks again to say why it was refused.
        await #expect {
            try await wrong.checkBucket()
        } throws: { error in
            "\(error)".contains("SignatureDoesNotMatch")
        }
        try await Self.store(moto, prefix: "p").checkBucket()
        await #expect {
            try await Self.store(moto, prefix: "p", bucket: "no-such-bucket").checkBucket()
        } throws: { error in
            (error as? StorageError)?.code == .notFound && "\(error)".contains("the bucket does not exist")
        }
    }

    @Test func objectsGoUpAndComeBackByKeyRangeAndCopy() async throws {
        let moto = try await MotoServer()
        let store = try Self.store(moto, prefix: "reel/")
        let directory = try TemporaryDirectory(prefix: "s3")
        let text = String(repeating: "0123456789", count: 1000)
        let file = try directory.write("in.txt", text)
        let stored = try await store.put("jobs/u/source/in file.txt", fromFile: file)
        #expect(stored.bytes == 10_000 && stored.sha256 == sha256Hex(text))
        #expect(stored.uri == "s3://reel-test/reel/jobs/u/source/in file.txt")
        #expect(try await store.head("jobs/u/source/in file.txt")?.bytes == 10_000)
        #expect(try await store.head("jobs/u/none") == nil)
        try await store.get("jobs/u/source/in file.txt", toFile: directory.path("out.txt"))
        #expect(try String(contentsOfFile: directory.path("out.txt"), encoding: .utf8) == text)
        try await store.get("jobs/u/source/in file.txt", toFile: directory.path("range.txt"), range: 10...14)
        #expect(try String(contentsOfFile: directory.path("range.txt"), encoding: .utf8) == "01234")
        try await store.copy("jobs/u/source/in file.txt", to: "jobs/u/copy.txt")
        _ = try await store.put("jobs/u/small.json", data: Data("{}".utf8))
        #expect(
            try await store.list(prefix: "jobs/u/") == [
                "jobs/u/copy.txt", "jobs/u/small.json", "jobs/u/source/in file.txt",
            ])
        let seen = try await store.withLocalFile("jobs/u/copy.txt") { path in
            (try String(contentsOfFile: path, encoding: .utf8), path)
        }
        #expect(seen.0 == text && !FileManager.default.fileExists(atPath: seen.1), "the scratch copy stayed")
        await #expect(throws: StorageError.self) { try await store.get("jobs/u/none", toFile: directory.path("no")) }
        #expect(!FileManager.default.fileExists(atPath: directory.path("no")))
        // boto3 sees the same bytes under the prefixed key.
        let listed = try await moto.boto3(
            """
            print(s3.get_object(Bucket=bucket, Key='reel/jobs/u/copy.txt')['Body'].read().decode()[:10])
            print(s3.get_object(Bucket=bucket, Key='reel/jobs/u/small.json')['Body'].read().decode())
            """)
        #expect(listed.split(separator: "\n") == ["0123456789", "{}"])
        try await store.delete("jobs/u/copy.txt")
        #expect(try await store.head("jobs/u/copy.txt") == nil)
    }

    /// 200 MB goes up in 24 parts of 8 MiB (the last 7.1 MB; 8 at a time); boto3 reads back the same size and
    /// the same SHA-256.
    @Test func aLargeObjectGoesUpInPartsAndComesBackWhole() async throws {
        let moto = try await MotoServer()
        let store = try Self.store(moto, prefix: "big/")
        let directory = try TemporaryDirectory(prefix: "s3-big")
        let path = directory.path("big.bin")
        let generate = try await ProcessRunner.capture(
            "/bin/sh", ["-c", "head -c 200000000 /dev/urandom > '\(path)'"])
        #expect(generate.status == 0)
        let stored = try await store.put("video.bin", fromFile: path)
        #expect(stored.bytes == 200_000_000)
        let digest = try await BlockingExecutor.files.run { try FileHashing.hash(path, key: "video.bin").1 }
        #expect(stored.sha256 == digest)
        let report = try await moto.boto3(
            """
            import hashlib
            head = s3.head_object(Bucket=bucket, Key="big/video.bin")
            h = hashlib.sha256()
            for chunk in s3.get_object(Bucket=bucket, Key="big/video.bin")["Body"].iter_chunks(1 << 20):
                h.update(chunk)
            print(head["ContentLength"], head["ETag"].strip('"').split("-")[-1], h.hexdigest())
            """)
        let fields = report.split(whereSeparator: \.isWhitespace).map(String.init)
        #expect(fields == ["200000000", "24", digest])
    }

    /// An upload a killed worker left half done (parts, never completed) is gone once the cleanup pass runs.
    @Test func abandonedMultipartUploadsAreAborted() async throws {
        let moto = try await MotoServer()
        let store = try Self.store(moto, prefix: "jobs/")
        let left = try await moto.boto3(
            """
            upload = s3.create_multipart_upload(Bucket=bucket, Key="jobs/u/render.mp4")["UploadId"]
            s3.upload_part(Bucket=bucket, Key="jobs/u/render.mp4", UploadId=upload, PartNumber=1, Body=b"x" * (5 << 20))
            other = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/file")["UploadId"]
            print(len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])))
            """)
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try await store.abortAbandonedUploads(olderThan: .seconds(3600)) == 1)
        let after = try await moto.boto3(
            "print(sorted(u['Key'] for u in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))")
        #expect(after.trimmingCharacters(in: .whitespacesAndNewlines) == "['elsewhere/file']")
    }

    /// Delete-prefix lists page by page and deletes in batches of 1,000; what lies outside the prefix stays.
    @Test func deletingAPrefixRemovesTwentyFiveHundredObjects() async throws {
        let moto = try await MotoServer()
        let store = try Self.store(moto, prefix: "")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: worker, to: 2500, by: 8) {
                        _ = try await store.put("jobs/u/chunks/\(index).json", data: Data("\(index)".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await store.put("jobs/v/keep.json", data: Data("{}".utf8))
        #expect(try await store.list(prefix: "jobs/u/").count == 2500)
        #expect(try await store.delete(prefix: "jobs/u/") == 2500)
        #expect(try await store.list(prefix: "jobs/").map { $0 } == ["jobs/v/keep.json"])
    }

    /// Reel's presigned URL is botocore's, character for character (same key, credentials, time and expiry),
    /// and it downloads with plain curl (from a moto without auth: with auth on moto refuses query signatures).
    @Test func presignedURLsMatchBotocoreAndDownload() async throws {
        let moto = try await MotoServer(authenticated: false)
        let store = try Self.store(moto, prefix: "out/")
        _ = try await store.put("jobs/u/render 1.mp4", data: Data("frames".utf8))
        let now = Date(timeIntervalSince1970: 1_796_040_000)  // 2026-11-30T12:00:00Z
        let reel = try await store.presignedGET("jobs/u/render 1.mp4", expires: .seconds(3600), now: now)
        let boto = try await moto.boto3(
            """
            import datetime, botocore.auth
            botocore.auth.get_current_datetime = lambda: datetime.datetime(2026, 11, 30, 12, 0, 0)
            from botocore.client import Config
            signer = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
                aws_access_key_id=s3._request_signer._credentials.access_key,
                aws_secret_access_key=s3._request_signer._credentials.secret_key,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
            print(signer.generate_presigned_url("get_object",
                Params={"Bucket": bucket, "Key": "out/jobs/u/render 1.mp4"}, ExpiresIn=3600))
            """)
        #expect(reel == boto.trimmingCharacters(in: .whitespacesAndNewlines))
        let fetched = try await ProcessRunner.capture(
            "/usr/bin/curl",
            [
                "-sf",
                try await store.presignedGET(
                    "jobs/u/render 1.mp4", expires: .seconds(60)),
            ])
        #expect(fetched.status == 0 && fetched.stdout == "frames", "\(fetched.stdout) \(fetched.stderr)")
        await #expect(throws: StorageError.self) {
            _ = try await store.presignedGET("jobs/u/render 1.mp4", expires: .seconds(8 * 86400))
        }
    }

    /// A Reel upload killed mid-way (the process, its parts sent, not completed) leaves an unfinished multipart
    /// upload; the cleanup pass aborts it and nothing of it remains.
    @Test func anUploadKilledMidWayIsGoneOnceCleanupRuns() async throws {
        let moto = try await MotoServer()
        let directory = try TemporaryDirectory(prefix: "s3-killed")
        // The bench stops itself with every part sent and the upload not completed (REEL_FAULT_STOP), and is
        // killed there: looking and then killing raced with the upload's completion on a loaded machine.
        var environment = moto.environment
        environment["REEL_FAULT_STOP"] = "multipart-complete"
        let bench = try BackgroundProcess(
            try ReelPaths.reelBinary,
            ["bench", "storage", "--storage", moto.storageURL(prefix: "killed"), "--bytes", "150000000", "--no-peer"],
            environment: environment, outputPath: directory.path("bench.log"))
        let stopped = try await BackgroundProcess.eventually(timeout: .seconds(120)) {
            bench.hasExited || bench.isStopped
        }
        #expect(stopped && !bench.hasExited, "the bench did not stop before completing: \(bench.output)")
        bench.send(SIGKILL)
        _ = await bench.wait()
        let listing = "print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"
        #expect(try await moto.boto3(listing).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let store = try Self.store(moto, prefix: "killed/")
        #expect(try await store.abortAbandonedUploads(olderThan: .seconds(60)) == 1)
        #expect(try await moto.boto3(listing).trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(try await store.list(prefix: "").isEmpty, "a killed upload left an object")
    }

    /// An upload that went while the cleanup listed it (another replica's pass aborted it, or it completed) is
    /// not an error and not counted: S3 answers its abort 404 `NoSuchUpload`, with an error document.
    @Test func anUploadAlreadyGoneIsPassedOverByTheCleanup() async throws {
        let moto = try await MotoServer()
        let store = try Self.store(moto, prefix: "gone/")
        let gone = try await store.initiateUpload(store.objectKey("a.bin"))
        _ = try await store.initiateUpload(store.objectKey("b.bin"))
        _ = try await moto.boto3("s3.abort_multipart_upload(Bucket=bucket, Key='gone/a.bin', UploadId='\(gone)')")
        #expect(try await store.abortUpload(store.objectKey("a.bin"), uploadID: gone) == false)
        #expect(try await store.abortAbandonedUploads(olderThan: .zero) == 1)
        let listing = "print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"
        #expect(try await moto.boto3(listing).trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func storageURLsParseWithTheirOptions() throws {
        let aws = try S3Location.parse("s3://media-bucket/reel/prod", environment: ["AWS_REGION": "eu-west-1"])
        #expect(aws.region == "eu-west-1" && aws.prefix == "reel/prod/" && !aws.pathStyle)
        #expect(
            aws.url(objectKey: "reel/prod/a b.mp4")
                == "https://media-bucket.s3.eu-west-1.amazonaws.com/reel/prod/a%20b.mp4")
        let minio = try S3Location.parse(
            "s3://videos?region=us-east-1&endpoint=http://127.0.0.1:9000", environment: [:])
        #expect(minio.pathStyle && minio.prefix.isEmpty && minio.bucketURL == "http://127.0.0.1:9000/videos/")
        let hosted = try S3Location.parse(
            "s3://videos/x?endpoint=https://storage.example.com&pathStyle=false", environment: [:])
        #expect(hosted.bucketURL == "https://videos.storage.example.com/")
        for bad in [
            "s3://", "s3://UPPER/x", "s3://b/x?color=red", "s3://bb/x?pathStyle=maybe", "s3://bb?endpoint=ftp://x",
        ] {
            #expect(throws: StorageError.self, "\(bad)") { try S3Location.parse(bad, environment: [:]) }
        }
    }
}
