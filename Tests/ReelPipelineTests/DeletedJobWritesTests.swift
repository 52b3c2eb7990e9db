import Foundation
import ReelAPI
import ReelCore
import ReelStorage
import ReelStore
import ReelTestSupport
import Testing

@testable import ReelPipeline

/// A job deleted while one of its tasks is writing: the cleanup removes the job's objects and rows, then the
/// task's write lands. Its database write is fenced (the lease is gone with the rows); its storage write is not,
/// so the task removes what it wrote, and no object is left that no job owns.
@Suite struct DeletedJobWritesTests {
    /// Holds every write back until `open()`, after telling `entered` its key.
    final class Gate: Sendable {
        let entered: AsyncStream<String>.Continuation
        let enteredKeys: AsyncStream<String>
        let gate: AsyncStream<Void>.Continuation
        let opened: AsyncStream<Void>

        init() {
            (enteredKeys, entered) = AsyncStream.makeStream(of: String.self)
            (opened, gate) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .unbounded)
        }

        func open() { gate.finish() }

        func pass(_ key: String) async {
            entered.yield(key)
            for await _ in opened {}
        }
    }

    @Test func aTaskOfAJobDeletedWhileItWroteRemovesWhatItWrote() async throws {
        let fixture = try await PipelineTests.Fixture(prefix: "deleted-writes")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let uid = UUID().uuidString.lowercased()
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")), uid: uid)
        let gated = Gate()
        let pipeline = Pipeline(
            database: fixture.database, store: WatchedStore(base: fixture.store) { await gated.pass($0) },
            configuration: fixture.pipeline.configuration)
        let task = try await fixture.claim(job, .ingest)
        let writes = TaskWrites()
        let running = Task { () -> TaskFailure? in
            do throws(TaskFailure) {
                try await pipeline.run(task, writes: writes) { _ in }
                return nil
            } catch { return error }
        }
        var keys = gated.enteredKeys.makeAsyncIterator()
        let key = try #require(await keys.next())
        #expect(key.hasPrefix(OutputLayout.jobPrefix(uid)))
        // The job is deleted and cleaned up (rows, then everything under its prefix) while the write waits.
        try await fixture.database.jobs.deleteAll(resourceUID: uid)
        try await fixture.store.delete(prefix: OutputLayout.jobPrefix(uid))
        gated.open()
        let failure = await running.value
        #expect(failure?.reason == TaskFailure.leaseLost.reason)
        #expect(try await fixture.store.list(prefix: OutputLayout.jobPrefix(uid)) == [], "no stray object")
    }

    @Test func aTaskWhoseLeaseWasRescuedKeepsWhatItWroteForTheJobThatStillExists() async throws {
        let fixture = try await PipelineTests.Fixture(prefix: "rescued-writes")
        _ = try await SampleMedia.sample(in: fixture.directory, seconds: 4)
        let uid = UUID().uuidString.lowercased()
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "file://./sample.mp4")), uid: uid)
        let task = try await fixture.claim(job, .ingest)
        try await fixture.pool.query(
            "UPDATE job_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [task.lease.taskID])
        #expect(try await fixture.queue.rescueExpired() == 1)
        let writes = TaskWrites()
        var failure: TaskFailure?
        do throws(TaskFailure) { try await fixture.pipeline.run(task, writes: writes) { _ in } } catch {
            failure = error
        }
        #expect(failure?.reason == TaskFailure.leaseLost.reason)
        // The same key is what the task's next holder writes; the job's own cleanup removes it in the end.
        #expect(try await fixture.store.list(prefix: OutputLayout.jobPrefix(uid)).count == 1)
    }
}
