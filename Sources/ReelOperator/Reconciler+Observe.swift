import Foundation
import ReelAPI
import ReelCore
import ReelStore

extension Reconciler {
    /// Reads what the database holds about a resource's jobs: the current generation's row with its tasks and
    /// chunks, and the other generations that still have work in the queue.
    func observe(uid: String, generation: Int64) async throws -> Observation {
        var observation = Observation()
        var others: [Int64] = []
        for row in try await database.jobs.generations(resourceUID: uid) {
            observation.allJobIDs.append(row.id)
            guard row.generation == generation else {
                others.append(row.id)
                continue
            }
            observation.current = ObservedJob(
                jobID: row.id, phase: row.phase, outputs: row.outputs, startedAt: row.startedAt,
                finishedAt: row.finishedAt, render: row.render)
        }
        observation.staleJobsWithActiveTasks = try await queue.jobsWithActiveTasks(others)
        guard var current = observation.current else { return observation }
        for row in try await queue.taskCounts(jobID: current.jobID) {
            guard let stage = Stage(rawValue: row.stage) else { continue }
            var tasks = current.stages[stage] ?? StageTasks()
            tasks.total += row.count
            switch row.state {
            case "succeeded": tasks.succeeded += row.count
            case "running":
                tasks.running += row.count
                tasks.active += row.count
            case "available", "retryable": tasks.active += row.count
            case "discarded": tasks.discarded += row.count
            default: break
            }
            current.stages[stage] = tasks
        }
        if current.stages.values.contains(where: { $0.discarded > 0 }) {
            for failure in try await queue.failures(jobID: current.jobID) {
                guard let stage = Stage(rawValue: failure.stage) else { continue }
                current.stages[stage]?.failureReason = failure.reason
                current.stages[stage]?.failureMessage = failure.message
                current.stages[stage]?.failureAttempts = failure.attempts
            }
        }
        let chunks = try await database.chunks.summary(jobID: current.jobID)
        current.chunksStored = chunks.stored
        current.chunksAnalyzed = chunks.analyzed
        current.usage = chunks.usage
        observation.current = current
        return observation
    }
}
