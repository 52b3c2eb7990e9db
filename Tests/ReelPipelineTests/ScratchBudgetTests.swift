import Foundation
import ReelAPI
import ReelCore
import ReelPipeline
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

/// `PipelineConfiguration.scratchLimit`: a task whose scratch space would exceed the budget waits (and says so in
/// the job's log) until other work gives some back, rather than fill the disk.
@Suite struct ScratchBudgetTests {
    @Test func aSplitWaitsForScratchSpaceAndGoesOnWhenItIsFreed() async throws {
        let fixture = try await PipelineTests.Fixture(prefix: "scratchbudget")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")))
        #expect(try await fixture.run(job, .ingest) == nil)
        var configuration = fixture.pipeline.configuration
        configuration.scratchLimit = 10_000_000
        let pipeline = Pipeline(database: fixture.database, store: fixture.store, configuration: configuration)
        let budget = try #require(pipeline.scratchBudget)
        await budget.reserve(9_999_999)  // another task's chunks, say
        let task = try await fixture.claim(job, .split)
        let split = Task { () -> TaskFailure? in
            do throws(TaskFailure) { try await pipeline.run(task) { _ in } } catch { return error }
            return nil
        }
        let waiting = try await BackgroundProcess.eventually(timeout: .seconds(30)) { budget.waiting == 1 }
        #expect(waiting, "the split did not wait for scratch space")
        let logged = try await fixture.database.logs.lines(jobs: [job], after: 0, limit: 50, newest: false)
        #expect(logged.contains { $0.message == "waiting for scratch space" })
        #expect(try await fixture.database.chunks.chunk(jobID: job, index: 0) == nil, "it split while waiting")
        budget.release(9_999_999)
        #expect(await split.value == nil)
        #expect(budget.reserved == 0, "the split gave its reservation back")
        #expect(try await fixture.queue.complete(task.lease))
        #expect(try await fixture.database.chunks.chunk(jobID: job, index: 0) != nil)
    }
}
