import Foundation
import ReelAPI
import Testing

@testable import ReelOperator

/// `JobPlanner.plan` for every phase, spec change, suspend, deletion, exhausted retries and terminal states.
@Suite struct JobPlanTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let later = Date(timeIntervalSince1970: 1_800_000_100)

    func desired(
        generation: Int = 1, status: VideoJobStatus? = nil, render: Bool = true, suspend: Bool = false,
        cancel: Bool? = nil, finalizers: [String] = [API.cleanupFinalizer], deleting: Bool = false
    ) -> DesiredJob {
        var spec = VideoJobSpec(source: SourceSpec(uri: "file:///data/a.mp4"))
        spec.render.enabled = render
        spec.suspend = suspend
        spec.cancel = cancel
        return DesiredJob(
            uid: "u1", namespace: "default", name: "a", generation: generation, spec: spec, status: status,
            finalizers: finalizers, deleting: deleting)
    }

    func job(_ stages: [Stage: StageTasks] = [:], phase: VideoJobPhase = .Pending, stored: Int = 0, analyzed: Int = 0)
        -> ObservedJob
    {
        ObservedJob(
            jobID: 7, phase: phase, stages: stages, chunksStored: stored, chunksAnalyzed: analyzed, startedAt: now)
    }

    static let done = StageTasks(total: 1, succeeded: 1)
    static let waiting = StageTasks(total: 1, active: 1)

    func enqueues(_ actions: [Action]) -> [Action] {
        actions.filter { if case .enqueue = $0 { true } else { false } }
    }

    func written(_ actions: [Action]) -> VideoJobStatus? {
        for case .writeStatus(let status) in actions { return status }
        return nil
    }

    @Test func newJobGetsTheFinalizerFirstThenARow() {
        let actions = JobPlanner.plan(desired(finalizers: []), Observation(), now: now)
        #expect(actions == [.addFinalizer, .createJob])
    }

    @Test func pendingJobEnqueuesIngestAndReportsEveryConditionUnknown() throws {
        let actions = JobPlanner.plan(desired(), Observation(current: job()), now: now)
        #expect(enqueues(actions) == [.enqueue(.ingest, chunks: nil)])
        let status = try #require(written(actions))
        #expect(status.phase == .Pending)
        #expect(status.observedGeneration == 1)
        #expect(
            status.conditions?.map(\.type) == [
                "Ingested", "Split", "Analyzed", "TimelineAssembled", "Rendered", "Succeeded",
            ])
        #expect(status.conditions?.allSatisfy { $0.status == .unknown && $0.observedGeneration == 1 } == true)
    }

    @Test(
        arguments: [
            ([Stage.ingest: StageTasks(total: 1, active: 1, running: 1)], VideoJobPhase.Ingesting, [Action]()),
            ([.ingest: done], .Splitting, [Action.enqueue(.split, chunks: nil)]),
            ([.ingest: done, .split: waiting], .Splitting, []),
            ([.ingest: done, .split: done], .Analyzing, [.enqueue(.analyze, chunks: [0, 1, 2])]),
            ([.ingest: done, .split: done, .analyze: StageTasks(total: 3, succeeded: 1, active: 2)], .Analyzing, []),
            (
                [.ingest: done, .split: done, .analyze: StageTasks(total: 3, succeeded: 3)], .Assembling,
                [.enqueue(.assemble, chunks: nil)]
            ),
            (
                [.ingest: done, .split: done, .analyze: StageTasks(total: 3, succeeded: 3), .assemble: done],
                .Rendering,
                [.enqueue(.render, chunks: nil)]
            ),
        ] as [([Stage: StageTasks], VideoJobPhase, [Action])])
    func eachPhaseEnqueuesTheNextStage(stages: [Stage: StageTasks], phase: VideoJobPhase, expected: [Action]) throws {
        let actions = JobPlanner.plan(desired(), Observation(current: job(stages, stored: 3)), now: now)
        #expect(enqueues(actions) == expected)
        #expect(try #require(written(actions)).phase == phase)
        #expect(
            actions.contains(
                .recordPhase(phase, progress: try #require(written(actions)?.progress), reason: nil, message: nil)))
    }

    @Test func allStagesDoneSucceedsWithFullProgressAndTrueConditions() throws {
        let stages: [Stage: StageTasks] = [
            .ingest: Self.done, .split: Self.done, .analyze: StageTasks(total: 2, succeeded: 2),
            .assemble: Self.done, .render: Self.done,
        ]
        let actions = JobPlanner.plan(desired(), Observation(current: job(stages, stored: 2, analyzed: 2)), now: now)
        let status = try #require(written(actions))
        #expect(status.phase == .Succeeded)
        #expect(status.progress == 100)
        #expect(status.conditions?.allSatisfy { $0.status == .true } == true)
        #expect(status.completionTime == Timestamp(now))
        #expect(status.chunks == ChunkCounts(total: 2, stored: 2, analyzed: 2, failed: 0))
        #expect(enqueues(actions).isEmpty)
    }

    @Test func withoutRenderTheJobSucceedsAfterAssembleAndSaysRenderDisabled() throws {
        let stages: [Stage: StageTasks] = [
            .ingest: Self.done, .split: Self.done, .analyze: StageTasks(total: 1, succeeded: 1),
            .assemble: Self.done,
        ]
        let status = try #require(
            written(JobPlanner.plan(desired(render: false), Observation(current: job(stages, stored: 1)), now: now)))
        #expect(status.phase == .Succeeded)
        let rendered = try #require(status.conditions?.first { $0.type == "Rendered" })
        #expect(rendered.status == .false && rendered.reason == "RenderDisabled")
    }

    @Test func exhaustedRetriesFailTheJobWithTheTasksReasonAndCancelTheRest() throws {
        var analyze = StageTasks(total: 3, succeeded: 1, active: 1, discarded: 1)
        analyze.failureReason = "InvalidMedia"
        analyze.failureMessage = "chunk 2 is damaged"
        analyze.failureAttempts = 5
        let stages: [Stage: StageTasks] = [.ingest: Self.done, .split: Self.done, .analyze: analyze]
        let actions = JobPlanner.plan(
            desired(), Observation(current: job(stages, phase: .Analyzing, stored: 3)), now: now)
        #expect(actions.contains(.cancelTasks([7])))
        #expect(enqueues(actions).isEmpty)
        let status = try #require(written(actions))
        #expect(status.phase == .Failed)
        let summary = try #require(status.conditions?.first { $0.type == "Succeeded" })
        #expect(summary.status == .false && summary.reason == "InvalidMedia")
        #expect(summary.message == "analyze failed after 5 attempts: chunk 2 is damaged")
        #expect(status.conditions?.first { $0.type == "Analyzed" }?.reason == "InvalidMedia")
        #expect(status.conditions?.first { $0.type == "TimelineAssembled" }?.reason == "Skipped")
        #expect(status.chunks?.failed == 1)
    }

    @Test func aTerminalJobStaysTerminalAndAnIdlePassWritesNothing() throws {
        let stages: [Stage: StageTasks] = [
            .ingest: Self.done, .split: Self.done, .analyze: StageTasks(total: 1, succeeded: 1),
            .assemble: Self.done, .render: Self.done,
        ]
        let observation = Observation(current: job(stages, phase: .Succeeded, stored: 1, analyzed: 1))
        let first = try #require(written(JobPlanner.plan(desired(), observation, now: now)))
        let again = JobPlanner.plan(desired(status: first), observation, now: later)
        #expect(again.isEmpty)
    }

    @Test func aFailedJobIsNotRestartedByLaterPasses() {
        var ingest = StageTasks(total: 1, discarded: 1)
        ingest.failureReason = "SourceNotFound"
        let observation = Observation(current: job([.ingest: ingest], phase: .Failed))
        let first = JobPlanner.plan(desired(), observation, now: now)
        let again = JobPlanner.plan(desired(status: written(first)), observation, now: later)
        #expect(enqueues(first).isEmpty && again.isEmpty)
    }

    @Test func aNewGenerationCancelsTheOldTasksAndStartsOver() throws {
        let old = try #require(
            written(JobPlanner.plan(desired(), Observation(current: job([.ingest: Self.done], stored: 0)), now: now)))
        let actions = JobPlanner.plan(
            desired(generation: 2, status: old),
            Observation(current: nil, staleJobsWithActiveTasks: [7], allJobIDs: [7]),
            now: later)
        #expect(actions == [.cancelTasks([7]), .createJob])
        let next = JobPlanner.plan(
            desired(generation: 2, status: old),
            Observation(current: ObservedJob(jobID: 8, startedAt: later), allJobIDs: [7, 8]), now: later)
        let status = try #require(written(next))
        #expect(status.observedGeneration == 2)
        #expect(status.progress == 0, "progress is monotonic within a generation only")
        #expect(enqueues(next) == [.enqueue(.ingest, chunks: nil)])
    }

    @Test func progressNeverGoesBackwardsWithinAGeneration() throws {
        let before = VideoJobStatus(observedGeneration: 1, phase: .Analyzing, progress: 55)
        let stages: [Stage: StageTasks] = [
            .ingest: Self.done, .split: Self.done, .analyze: StageTasks(total: 4, succeeded: 1, active: 3),
        ]
        let status = try #require(
            written(JobPlanner.plan(desired(status: before), Observation(current: job(stages, stored: 4)), now: now)))
        #expect(status.progress == 55)
    }

    @Test func suspendRunsNoNewTasks() throws {
        let none = JobPlanner.plan(desired(suspend: true), Observation(), now: now)
        #expect(!none.contains(.createJob))
        #expect(try #require(written(none)).phase == .Suspended)
        let midway = JobPlanner.plan(desired(suspend: true), Observation(current: job([.ingest: Self.done])), now: now)
        #expect(enqueues(midway).isEmpty)
        let status = try #require(written(midway))
        #expect(status.phase == .Suspended)
        #expect(status.conditions?.first { $0.type == "Succeeded" }?.reason == "Suspended")
    }

    @Test func cancelEndsTheJobFailedWithoutNewTasks() throws {
        let before = JobPlanner.plan(desired(cancel: true), Observation(staleJobsWithActiveTasks: [3]), now: now)
        #expect(!before.contains(.createJob))
        #expect(before.first == .cancelTasks([3]))
        let status = try #require(written(before))
        #expect(status.phase == .Failed && status.completionTime == Timestamp(now))
        #expect(status.conditions?.first { $0.type == "Succeeded" }?.reason == "Cancelled")
        #expect(status.conditions?.first { $0.type == "Analyzed" }?.reason == "Cancelled")
        let running = JobPlanner.plan(
            desired(cancel: true), Observation(current: job([.ingest: Self.done, .split: Self.waiting])), now: now)
        #expect(running.contains(.cancelTasks([7])))
        #expect(
            running.contains(.recordPhase(.Failed, progress: 0, reason: "Cancelled", message: "spec.cancel is true")))
        #expect(enqueues(running).isEmpty)
        let again = JobPlanner.plan(desired(status: status, cancel: true), Observation(), now: later)
        #expect(again.isEmpty)
        let off = JobPlanner.plan(desired(cancel: false), Observation(), now: now)
        #expect(off.contains(.createJob))
    }

    @Test func aJobWhoseOutputAnotherWritesFailsBeforeAnyTaskAndStaysFailed() throws {
        var conflict = Observation()
        conflict.outputOwner = "default/first"
        let actions = JobPlanner.plan(desired(), conflict, now: now)
        #expect(!actions.contains(.createJob) && enqueues(actions).isEmpty)
        let status = try #require(written(actions))
        #expect(status.phase == .Failed && status.progress == 0)
        let reason = status.conditions?.first { $0.type == "Succeeded" }
        #expect(reason?.reason == "OutputConflict" && reason?.message.contains("default/first") == true)
        #expect(status.conditions?.first { $0.type == "Ingested" }?.reason == "OutputConflict")
        // The other job went away: a job refused before processing stays as it ended (no surprise start).
        #expect(!JobPlanner.plan(desired(status: status), Observation(), now: later).contains(.createJob))
        // A new generation (the user changed the spec) is a new start.
        #expect(JobPlanner.plan(desired(generation: 2, status: status), Observation(), now: later).contains(.createJob))
    }

    @Test func anExpiredJobIsNotRunAgainUntilItsSpecChanges() {
        let expired = VideoJobStatus(observedGeneration: 1, phase: .Expired, progress: 100)
        #expect(JobPlanner.plan(desired(status: expired), Observation(), now: now).isEmpty)
        #expect(JobPlanner.plan(desired(generation: 2, status: expired), Observation(), now: now).contains(.createJob))
    }

    @Test func replacedGenerationsAreRetiredOnceTheirTasksStopped() {
        let old = SupersededJob(jobID: 3, generation: 1)
        let actions = JobPlanner.plan(
            desired(generation: 2), Observation(current: job(), allJobIDs: [3, 7], superseded: [old]), now: now)
        #expect(actions.contains(.retire([old])))
        let busy = JobPlanner.plan(
            desired(generation: 2), Observation(current: job(), staleJobsWithActiveTasks: [3], allJobIDs: [3, 7]),
            now: now)
        #expect(busy.contains(.cancelTasks([3])) && !busy.contains { if case .retire = $0 { true } else { false } })
    }

    @Test func deletionCancelsCleansUpAndDropsTheFinalizer() {
        let actions = JobPlanner.plan(
            desired(deleting: true), Observation(current: job(), staleJobsWithActiveTasks: [3], allJobIDs: [3, 7]),
            now: now)
        #expect(actions == [.cancelTasks([3, 7]), .cleanup([3, 7]), .removeFinalizer])
        #expect(JobPlanner.plan(desired(finalizers: [], deleting: true), Observation(), now: now).isEmpty)
    }

    @Test func lastTransitionTimeMovesOnlyWhenStatusFlips() throws {
        let first = try #require(written(JobPlanner.plan(desired(), Observation(current: job()), now: now)))
        let second = try #require(
            written(
                JobPlanner.plan(
                    desired(status: first), Observation(current: job([.ingest: Self.done], stored: 0)), now: later)))
        let ingested = try #require(second.conditions?.first { $0.type == "Ingested" })
        let split = try #require(second.conditions?.first { $0.type == "Split" })
        #expect(ingested.status == .true && ingested.lastTransitionTime == Timestamp(later))
        #expect(split.status == .unknown && split.lastTransitionTime == Timestamp(now))
    }
}
