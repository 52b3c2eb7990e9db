import Foundation
import ReelAPI
import ReelStore
import ReelTestSupport
import Testing

@testable import ReelPipeline

/// A chunk's analysis is recorded once even when the write that recorded it committed and its worker never heard
/// (PostgreSQL restarted with the commit's answer in flight: the worker saw `connectionLost`, the task failed
/// and ran again). Found by hack/chaos.sh: one chunk in 851 was written twice in a 30-minute run.
@Suite struct ExactlyOnceTests {
    @Test func anAnalysisWhoseCommitWentUnheardIsNotWrittenAgainWhenTheTaskRunsAgain() async throws {
        let fixture = try await PipelineTests.Fixture(prefix: "exactly-once")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
        for stage in [Stage.ingest, .split] { #expect(try await fixture.run(job, stage) == nil) }

        // The first attempt writes its analysis, but its worker never learns the commit happened.
        let first = try await fixture.claim(job, .analyze, chunk: 0)
        try await fixture.pipeline.run(first) { _ in }
        try await fixture.pool.query(
            "UPDATE job_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [first.lease.taskID])
        #expect(try await fixture.queue.rescueExpired() == 1)
        // The task runs again (from the cache now) and completes.
        let second = try #require(
            try await fixture.queue.claim(stages: [.analyze], limit: 1, worker: "b", lease: .seconds(30)).first)
        #expect(second.lease.taskID == first.lease.taskID)
        try await fixture.pipeline.run(second) { _ in }
        #expect(try await fixture.queue.complete(second.lease))

        let rows = try await fixture.pool.query(
            "SELECT analysis_writes, requests FROM video_chunks WHERE job_id = $1 AND chunk_index = 0", [job])
        #expect(try rows.first?.decode(Int.self, at: 0) == 1, "the chunk's analysis was written once")
        let job_ = try await fixture.pool.query("SELECT requests FROM processing_jobs WHERE id = $1", [job])
        #expect(
            try job_.first?.decode(Int.self, at: 0) == rows.first?.decode(Int.self, at: 1),
            "what was paid is counted once")
    }
}
