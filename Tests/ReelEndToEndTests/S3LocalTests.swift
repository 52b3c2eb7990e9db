import Foundation
import ReelSupport
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reel local` with S3 storage and an `s3://` source, against moto with authentication enforced: every byte goes
/// through the bucket, workers work on scratch copies, and deleting the job empties its prefix.
@Suite(.serialized) struct S3LocalTests {
    @Test func aJobWithAnS3SourceAndS3StorageRunsAndItsDeletionEmptiesItsPrefix() async throws {
        let moto = try await MotoServer()
        let directory = try TemporaryDirectory(prefix: "s3-local")
        let resources = directory.path("resources")
        try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
        let sample = try await SampleMedia.sample(in: directory, seconds: 6)
        // The source, and an upload a killed worker of an earlier run left behind (moto dates it 2010).
        _ = try await moto.boto3(
            """
            s3.upload_file(\(MotoServer.python(sample)), bucket, 'sources/talk.mp4')
            s3.create_multipart_upload(Bucket=bucket, Key='reel/jobs/gone/render.mp4')
            """)
        try directory.write(
            "resources/talk.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata: {name: talk}
            spec:
              source: {uri: "s3://reel-test/sources/talk.mp4"}
              split: {targetSeconds: 3}
              timeline: {strategy: highlights, maxSeconds: 4}
              output: {uri: "s3://reel-test/exports/talk/"}
            """)
        let database = try await TestPostgres.database("s3local")
        let local = try BackgroundProcess(
            ReelPaths.reelBinary,
            [
                "local", "--resources", resources, "--state", directory.path("state"), "--database-url", database,
                "--storage", moto.storageURL(prefix: "reel"), "--lease-seconds", "2", "--poll-seconds", "0.2",
                "--resync-seconds", "1", "--grace-seconds", "6",
            ], environment: moto.environment, outputPath: directory.path("local.log"))
        defer { local.send(SIGKILL) }
        let listing =
            "print('\\n'.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket=bucket).get('Contents', []))))"
        var keys: [String] = []
        let rendered = try await BackgroundProcess.eventually(timeout: .seconds(240)) {
            keys = try await moto.boto3(listing).split(separator: "\n").map(String.init)
            return keys.contains("exports/talk/render.mp4")
        }
        #expect(rendered, "no render in the bucket: \(keys)\n\(local.output)")
        let stored = keys.filter { $0.hasPrefix("reel/jobs/") }
        #expect(stored.contains { $0.hasSuffix("/source/talk.mp4") }, "\(keys)")
        #expect(stored.filter { $0.contains("/chunks/") }.count == 2, "\(keys)")
        for output in ["timeline.json", "timeline.otio", "timeline.edl", "render.mp4"] {
            #expect(keys.contains("exports/talk/\(output)"), "\(output) missing: \(keys)")
        }
        let render = directory.path("render.mp4")
        _ = try await moto.boto3(
            "s3.download_file(bucket, 'exports/talk/render.mp4', \(MotoServer.python(render)))")
        let video = try await SampleMedia.ffprobe(
            ["-select_streams", "v:0", "-show_entries", "stream=duration", "-of", "csv=p=0", render])
        #expect(video == ["4.000000"])
        let uploads = try await moto.boto3("print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))")
        #expect(uploads.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the abandoned upload was not aborted")
        // No scratch copies stay behind.
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: directory.path("state/scratch"))) ?? []
        #expect(scratch.isEmpty, "\(scratch)")
        // Deleting the resource deletes every object under the job's prefix and exactly the outputs it wrote; what
        // else the export prefix holds is somebody else's and stays.
        _ = try await moto.boto3("s3.put_object(Bucket=bucket, Key='exports/talk/notes.txt', Body=b'mine')")
        try FileManager.default.removeItem(atPath: "\(resources)/talk.yaml")
        let emptied = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            keys = try await moto.boto3(listing).split(separator: "\n").map(String.init)
            return !keys.contains {
                $0.hasPrefix("reel/") || ($0.hasPrefix("exports/talk/") && $0 != "exports/talk/notes.txt")
            }
        }
        #expect(emptied, "left behind: \(keys)")
        #expect(keys.contains("exports/talk/notes.txt"), "\(keys)")
        local.send(SIGTERM)
        #expect(await local.wait() == 0, "\(local.output)")
    }
}
