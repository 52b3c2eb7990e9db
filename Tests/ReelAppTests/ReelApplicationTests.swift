import Foundation
import ReelApp
import ReelCore
import ReelPipeline
import ReelStore
import ReelTestSupport
import Testing
import ReelProcess

/// The builder `reel local`, `reel operator` and `reel worker` share, used in-process.
@Suite(.serialized) struct ReelApplicationTests {
    /// A local application built here (its workers are the built `reel`) processes a job to its render and
    /// reports how the run ended.
    @Test func aLocalApplicationBuiltInProcessRunsAJobToTheEnd() async throws {
        let directory = try TemporaryDirectory(prefix: "app-local")
        let resources = directory.path("resources")
        try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
        let sample = try await SampleMedia.sample(in: directory, seconds: 6)
        try FileManager.default.moveItem(atPath: sample, toPath: "\(resources)/sample.mp4")
        try directory.write(
            "resources/clip.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata: {name: clip}
            spec:
              source: {uri: "file://./sample.mp4"}
              split: {targetSeconds: 3}
              output: {uri: "file://./out/"}
            """)
        var settings = LocalSettings(resources: resources, state: directory.path("state"))
        settings.databaseURL = try await TestPostgres.database("app-local")
        settings.untilDone = true
        settings.timeout = .seconds(240)
        settings.lease = .seconds(2)
        settings.poll = .milliseconds(200)
        settings.resync = .seconds(2)
        settings.grace = .seconds(6)
        settings.workerExecutable = try ReelPaths.reelBinary
        let local = try await ReelApplication.local(settings, logger: TestPostgres.logger)
        #expect(FileManager.default.fileExists(atPath: directory.path("state/reel-local.pid")))
        try await local.run(signals: [])
        #expect(local.outcome == .succeeded)
        let render = directory.path("resources/out/render.mp4")
        #expect(FileManager.default.fileExists(atPath: render), "no render at \(render)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("state/reel-local.pid")), "the lock stayed")
    }

    /// A worker whose storage cannot be opened fails at build time, before it touches the database (whose URL
    /// here leads nowhere: reaching it would fail differently).
    @Test func aWorkerWithUnusableStorageFailsToBuildBeforeTheDatabase() async throws {
        let settings = WorkerSettings(
            databaseURL: "postgresql://nobody@127.0.0.1:1/none", storage: "ftp://example.com/videos",
            pipeline: PipelineConfiguration(allowedRoots: AllowedRoots(["/tmp"])),
            worker: WorkerConfiguration(stages: [.ingest]))
        await #expect {
            _ = try await ReelApplication.worker(settings, logger: TestPostgres.logger)
        } throws: { error in
            "\(error)".contains("ftp://")
        }
    }
}
