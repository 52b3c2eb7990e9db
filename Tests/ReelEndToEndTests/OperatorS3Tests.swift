import Foundation
import ReelSupport
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `reel operator --storage s3://…` against the real kube-apiserver and moto (authentication enforced): the job's
/// source comes from the bucket, its outputs go to the bucket, and the operator and its workers share no files.
@Suite(.serialized, .disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct OperatorS3Tests {
    @Test func anS3JobSucceedsWithoutASharedVolumeAndItsDeletionEmptiesItsPrefix() async throws {
        let moto = try await MotoServer()
        try await OperatorTests.Cluster.with("op-s3") { cluster in
            let sample = cluster.directory.path("media/sample.mp4")
            _ = try await moto.boto3("s3.upload_file(\(MotoServer.python(sample)), bucket, 'sources/sample.mp4')")
            let op = try await cluster.startOperator(
                "op-s3", [], environment: moto.environment, storage: moto.storageURL(prefix: "reel"))
            defer { op.process.send(SIGKILL) }
            try cluster.directory.write(
                "s3job.yaml",
                """
                apiVersion: reel.dev/v1alpha1
                kind: VideoJob
                metadata: {name: s3job, namespace: default}
                spec:
                  source: {uri: "s3://reel-test/sources/sample.mp4"}
                  split: {targetSeconds: 4}
                  output: {uri: "s3://reel-test/exports/s3job/"}
                """)
            let applied = try await cluster.server.kubectl(["apply", "-f", cluster.directory.path("s3job.yaml")])
            #expect(applied.status == 0, "\(applied.output)")
            var phase: String?
            let finished = try await BackgroundProcess.eventually(timeout: .seconds(240)) {
                phase = OperatorTests.field(try await cluster.get("vj", "s3job"), "status", "phase") as? String
                return phase == "Succeeded" || phase == "Failed"
            }
            #expect(finished && phase == "Succeeded", "phase \(phase ?? "-")\n\(op.process.output)")
            let outputs = OperatorTests.field(try await cluster.get("vj", "s3job"), "status", "outputs")
            #expect((outputs as? [String: Any])?["render"] as? String == "s3://reel-test/exports/s3job/render.mp4")
            let listing =
                "print('\\n'.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket=bucket).get('Contents', []))))"
            var keys = try await moto.boto3(listing).split(separator: "\n").map(String.init)
            #expect(keys.contains("exports/s3job/render.mp4") && keys.contains("exports/s3job/timeline.otio"))
            #expect(keys.filter { $0.hasPrefix("reel/jobs/") && $0.contains("/chunks/") }.count == 3, "\(keys)")
            // Nothing of the job's on the operator's disk: its state directory holds worker logs and empty scratch.
            let scratch = cluster.directory.path("state-op-s3/scratch")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: cluster.directory.path("store")))
            let deleted = try await cluster.server.kubectl(["delete", "vj", "s3job", "-n", "default", "--wait=false"])
            #expect(deleted.status == 0)
            let emptied = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
                keys = try await moto.boto3(listing).split(separator: "\n").map(String.init)
                return !keys.contains { $0.hasPrefix("reel/") }
            }
            #expect(emptied, "left behind: \(keys)")
            op.process.send(SIGTERM)
            #expect(await op.process.wait() == 0, "\(op.process.output)")
        }
        await moto.stop()
    }
}
