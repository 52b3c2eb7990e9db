import Foundation
import ReelAPI

extension JobPlanner {
    /// The failure a cancelled job ends with.
    static let cancellation = (reason: "Cancelled", message: "spec.cancel is true")

    /// `spec.cancel`: every task of the resource is cancelled, no new one is created, and the job ends `Failed`
    /// with the reason `Cancelled` (a job that had already finished keeps its phase).
    static func cancelled(_ desired: DesiredJob, _ observed: Observation, now: Date) -> [Action] {
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
                .recordPhase(.Failed, progress: progress, reason: cancellation.reason, message: cancellation.message))
        }
        var status = status(desired, job, phase: .Failed, failure: cancellation, now: now, progress: progress)
        status.completionTime = desired.status?.completionTime ?? Timestamp(now)
        if status != desired.status { actions.append(.writeStatus(status)) }
        return actions
    }
}
