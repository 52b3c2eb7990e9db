import FoundationEssentials
import ReelAPI
import ReelCore

/// The reconciler's brain: desired + observed → actions. Pure; `now` is the only clock.
public enum JobPlanner {
    /// Failures that stop a job from outside its stages (every unfinished stage then says why).
    static let stops: Set<String> = ["Cancelled", "OutputConflict"]

    /// Stage conditions, in pipeline order.
    static let conditionTypes: [(Stage, String, String)] = [
        (.ingest, "Ingested", "SourceStored"),
        (.split, "Split", "ChunksStored"),
        (.analyze, "Analyzed", "ChunksAnalyzed"),
        (.assemble, "TimelineAssembled", "TimelineWritten"),
        (.render, "Rendered", "RenderWritten"),
    ]

    /// Progress weights (percent) per stage; analyze counts by chunk.
    static func weights(render: Bool) -> [Stage: Int] {
        render
            ? [.ingest: 10, .split: 10, .analyze: 60, .assemble: 10, .render: 10]
            : [.ingest: 10, .split: 10, .analyze: 60, .assemble: 20, .render: 0]
    }

    public static func plan(_ desired: DesiredJob, _ observed: Observation, now: Date) -> [Action] {
        if desired.deleting {
            guard desired.finalizers.contains(API.cleanupFinalizer) else { return [] }
            var actions: [Action] = []
            let active = observed.staleJobsWithActiveTasks + (observed.current.map { [$0.jobID] } ?? [])
            if !active.isEmpty { actions.append(.cancelTasks(active)) }
            actions.append(.cleanup(observed.allJobIDs))
            actions.append(.removeFinalizer)
            return actions
        }
        var actions: [Action] = []
        if !desired.finalizers.contains(API.cleanupFinalizer) { actions.append(.addFinalizer) }
        if !observed.staleJobsWithActiveTasks.isEmpty {
            actions.append(.cancelTasks(observed.staleJobsWithActiveTasks))
        }
        if !observed.superseded.isEmpty { actions.append(.retire(observed.superseded)) }
        if desired.spec.cancel == true {
            return actions + cancelled(desired, observed, now: now)
        }
        if let owner = observed.outputOwner {
            return actions + conflicted(desired, observed, owner: owner, now: now)
        }
        guard let job = observed.current else {
            // Refused before any processing (a conflict since resolved), or expired: it stays as it ended until
            // the spec changes.
            if let status = desired.status, status.observedGeneration == desired.generation,
                status.phase == .Failed || status.phase == .Expired
            {
                return actions
            }
            if desired.spec.suspend {
                actions.append(.writeStatus(status(desired, nil, phase: .Suspended, failure: nil, now: now)))
            } else {
                actions.append(.createJob)
            }
            return actions.filter { action in
                if case .writeStatus(let status) = action { return status != desired.status }
                return true
            }
        }
        let render = desired.spec.render.enabled
        let stages: [Stage] =
            render ? [.ingest, .split, .analyze, .assemble, .render] : [.ingest, .split, .analyze, .assemble]
        let failed = stages.first { (job.stages[$0]?.discarded ?? 0) > 0 }
        let terminalRecorded =
            job.phase == .Succeeded || job.phase == .Failed
        var phase: VideoJobPhase
        var failure: (reason: String, message: String)?
        if let failed {
            let tasks = job.stages[failed]!
            let attempts = tasks.failureAttempts.map { $0 > 1 ? " after \($0) attempts" : "" } ?? ""
            failure = (
                tasks.failureReason ?? "StageFailed",
                "\(failed.rawValue) failed\(attempts): \(tasks.failureMessage ?? "no message")"
            )
            phase = .Failed
            let stillActive = stages.contains { (job.stages[$0]?.active ?? 0) > 0 }
            if stillActive { actions.append(.cancelTasks([job.jobID])) }
        } else if stages.allSatisfy({ job.stages[$0]?.done == true }) {
            phase = .Succeeded
        } else if terminalRecorded {
            // A terminal job stays terminal (a later reconcile must not resurrect it).
            phase = job.phase
        } else {
            phase = .Pending
            var previousDone = true
            for stage in stages {
                let tasks = job.stages[stage] ?? StageTasks()
                if tasks.done {
                    previousDone = true
                    continue
                }
                guard previousDone else { break }
                phase = phaseOf(stage, started: tasks.total > 0 || stage != .ingest)
                if desired.spec.suspend { break }
                if stage == .analyze {
                    let want = job.chunksStored
                    if tasks.total < want {
                        actions.append(.enqueue(.analyze, chunks: Array(0..<want)))
                    }
                } else if tasks.total == 0 {
                    actions.append(.enqueue(stage, chunks: nil))
                }
                break
            }
            if desired.spec.suspend { phase = .Suspended }
        }
        let progress = progressOf(
            job, stages: stages, render: render, phase: phase, previous: desired.status,
            generation: desired.generation)
        if job.phase != phase || phase == .Failed && !terminalRecorded {
            actions.append(.recordPhase(phase, progress: progress, reason: failure?.reason, message: failure?.message))
        }
        let newStatus = status(
            desired, job, phase: phase, failure: failure, now: now, progress: progress, stages: stages)
        if newStatus != desired.status { actions.append(.writeStatus(newStatus)) }
        return actions
    }

    static func phaseOf(_ stage: Stage, started: Bool) -> VideoJobPhase {
        switch stage {
        case .ingest: started ? .Ingesting : .Pending
        case .split: .Splitting
        case .analyze: .Analyzing
        case .assemble: .Assembling
        case .render: .Rendering
        }
    }

    static func progressOf(
        _ job: ObservedJob, stages: [Stage], render: Bool, phase: VideoJobPhase, previous: VideoJobStatus?,
        generation: Int
    ) -> Int {
        let weights = weights(render: render)
        var total = 0.0
        for stage in stages {
            let tasks = job.stages[stage] ?? StageTasks()
            let weight = Double(weights[stage] ?? 0)
            if stage == .analyze {
                if job.chunksStored > 0 {
                    total += weight * Double(min(tasks.succeeded, job.chunksStored)) / Double(job.chunksStored)
                }
            } else if tasks.done {
                total += weight
            }
        }
        var progress = phase == .Succeeded ? 100 : min(99, Int(total.rounded(.down)))
        if let previous, previous.observedGeneration == generation, let before = previous.progress {
            progress = max(progress, before)
        }
        return progress
    }

    /// The status for `phase`: conditions carried over where their status did not change.
    static func status(
        _ desired: DesiredJob, _ job: ObservedJob?, phase: VideoJobPhase, failure: (reason: String, message: String)?,
        now: Date, progress: Int? = nil, stages: [Stage] = []
    ) -> VideoJobStatus {
        let generation = desired.generation
        let previous = desired.status?.observedGeneration == generation ? desired.status : nil
        var conditions: [Condition] = []
        func set(_ type: String, _ status: ConditionStatus, _ reason: String, _ message: String) {
            let before = desired.status?.conditions?.first { $0.type == type }
            let transition =
                before.map { $0.status == status ? $0.lastTransitionTime : Timestamp(now) } ?? Timestamp(now)
            conditions.append(
                Condition(
                    type: type, status: status, reason: reason, message: message, lastTransitionTime: transition,
                    observedGeneration: generation))
        }
        for (stage, type, doneReason) in conditionTypes {
            let tasks = job?.stages[stage] ?? StageTasks()
            if stage == .render && !desired.spec.render.enabled {
                set(type, .false, "RenderDisabled", "spec.render.enabled is false")
            } else if tasks.done {
                set(type, .true, doneReason, doneMessage(stage, job!))
            } else if tasks.discarded > 0, let failure {
                set(type, .false, failure.reason, failure.message)
            } else if phase == .Failed, let failure, job == nil || stops.contains(failure.reason) {
                set(type, .false, failure.reason, failure.message)
            } else if phase == .Failed {
                set(type, .false, "Skipped", "an earlier stage failed")
            } else if phase == .Suspended {
                set(type, .unknown, "Suspended", "spec.suspend is true")
            } else if tasks.running > 0 || (tasks.total > 0 && stage == .analyze) {
                set(type, .unknown, "InProgress", "\(stage.rawValue) is running")
            } else {
                set(type, .unknown, "Pending", "waiting for \(stage == .ingest ? "a worker" : "earlier stages")")
            }
        }
        switch phase {
        case .Succeeded: set("Succeeded", .true, "Completed", "every stage finished")
        case .Failed: set("Succeeded", .false, failure?.reason ?? "Failed", failure?.message ?? "the job failed")
        case .Suspended: set("Succeeded", .unknown, "Suspended", "spec.suspend is true")
        default: set("Succeeded", .unknown, "InProgress", "the job is \(phase.rawValue.lowercased())")
        }
        var chunks: ChunkCounts? = nil
        if let job, job.chunksStored > 0 || (job.stages[.split]?.done ?? false) {
            chunks = ChunkCounts(
                total: job.chunksStored, stored: job.chunksStored, analyzed: job.chunksAnalyzed,
                failed: job.stages[.analyze]?.discarded ?? 0)
        }
        let outputs = job?.outputs == JobOutputs() ? nil : job?.outputs
        let terminal = phase == .Succeeded || phase == .Failed
        var status = VideoJobStatus(
            observedGeneration: generation, phase: phase, progress: progress ?? previous?.progress ?? 0, chunks: chunks,
            conditions: conditions, outputs: outputs,
            startTime: job.map { Timestamp($0.startedAt) },
            completionTime: terminal ? (previous?.completionTime ?? Timestamp(job?.finishedAt ?? now)) : nil)
        if desired.spec.analysis.provider == .gemini, let job { status.usage = job.usage }
        return status
    }

    static func doneMessage(_ stage: Stage, _ job: ObservedJob) -> String {
        switch stage {
        case .ingest: "the source is stored and probed"
        case .split: "\(job.chunksStored) chunk\(job.chunksStored == 1 ? "" : "s") stored"
        case .analyze: "\(job.chunksAnalyzed) chunk\(job.chunksAnalyzed == 1 ? "" : "s") analyzed"
        case .assemble: "timeline written (JSON, OTIO, EDL)"
        case .render: job.render?.message ?? "render written"
        }
    }
}
