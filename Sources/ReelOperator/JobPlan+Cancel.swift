import FoundationEssentials
import ReelAPI

extension JobPlanner {
    /// The failure a cancelled job ends with.
    static let cancellation = (reason: "Cancelled", message: "spec.cancel is true")

    /// `spec.cancel`: every task of the resource is cancelled, no new one is created, and the job ends `Failed`
    /// with the reason `Cancelled` (a job that had already finished keeps its phase).
    static func cancelled(_ desired: DesiredJob, _ observed: Observation, now: Date) -> [Action] {
        stopped(desired, observed, failure: cancellation, now: now)
    }

    /// Another job writes to this one's output: it ends `Failed` (`OutputConflict`) before any task.
    static func conflicted(_ desired: DesiredJob, _ observed: Observation, owner: String, now: Date) -> [Action] {
        let uri = desired.spec.output?.uri ?? ""
        return stopped(
            desired, observed,
            failure: (
                "OutputConflict",
                "spec.output.uri \(uri) is written by VideoJob \(owner); two jobs may not share an output (delete it "
                    + "or choose another output)"
            ), now: now)
    }

    /// Stops the job for good with `failure`: its tasks cancelled, none created.
    static func stopped(
        _ desired: DesiredJob, _ observed: Observation, failure: (reason: String, message: String), now: Date
    ) -> [Action] {
        var actions: [Action] = []
        let job = observed.current
        if let job, job.stages.values.contains(where: { $0.active > 0 }) { actions.append(.cancelTasks([job.jobID])) }
        if let job, job.phase == .Succeeded || job.phase == .Failed {
            let status = status(desired, job, phase: job.phase, failure: nil, now: now, stages: [])
            return status == desired.status ? actions : actions + [.writeStatus(status)]
        }
        let progress = desired.status?.progress ?? 0
        if job != nil {
            actions.append(
                .recordPhase(.Failed, progress: progress, reason: failure.reason, message: failure.message))
        }
        var status = status(desired, job, phase: .Failed, failure: failure, now: now, progress: progress)
        status.completionTime = desired.status?.completionTime ?? Timestamp(now)
        if status != desired.status { actions.append(.writeStatus(status)) }
        return actions
    }
}
