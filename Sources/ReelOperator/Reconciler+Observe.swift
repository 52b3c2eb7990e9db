import FoundationEssentials
import ReelAPI
import ReelCore
import ReelStore

extension Reconciler {
    /// Reads what the database holds about a resource's jobs: the current generation's row with its tasks and
    /// chunks, and the other generations that still have work in the queue.
    ///
    /// The reads are not one snapshot, so they go in the reverse order of the writes they observe: a stage
    /// records what it made (chunks, outputs, render facts) before its task completes, so the tasks are read
    /// before the chunks and the row's outputs. A task seen finished then always comes with what it made; read
    /// the other way, a render that finished between the two reads made a job `Succeeded` without its render.
    func observe(uid: String, generation: Int64) async throws -> Observation {
        var observation = Observation()
        var others: [Int64] = []
        var older: [SupersededJob] = []
        for row in try await database.jobs.generations(resourceUID: uid) {
            observation.allJobIDs.append(row.id)
            guard row.generation == generation else {
                others.append(row.id)
                if row.generation < generation, !row.retired {
                    older.append(SupersededJob(jobID: row.id, generation: row.generation))
                }
                continue
            }
            observation.current = ObservedJob(
                jobID: row.id, phase: row.phase, outputs: row.outputs, startedAt: row.startedAt,
                finishedAt: row.finishedAt, render: row.render)
        }
        observation.staleJobsWithActiveTasks = try await queue.jobsWithActiveTasks(others)
        observation.superseded = older.filter { !observation.staleJobsWithActiveTasks.contains($0.jobID) }
        guard var current = observation.current else { return observation }
        for row in try await queue.taskCounts(jobID: current.jobID) {
            var tasks = current.stages[row.stage] ?? StageTasks()
            tasks.total += row.count
            if row.state.isActive { tasks.active += row.count }
            switch row.state {
            case .succeeded: tasks.succeeded += row.count
            case .running: tasks.running += row.count
            case .discarded: tasks.discarded += row.count
            case .available, .retryable, .cancelled: break
            }
            current.stages[row.stage] = tasks
        }
        if current.stages.values.contains(where: { $0.discarded > 0 }) {
            for failure in try await queue.failures(jobID: current.jobID) {
                current.stages[failure.stage]?.failureReason = failure.reason
                current.stages[failure.stage]?.failureMessage = failure.message
                current.stages[failure.stage]?.failureAttempts = failure.attempts
            }
        }
        let chunks = try await database.chunks.summary(jobID: current.jobID)
        current.chunksStored = chunks.stored
        current.chunksAnalyzed = chunks.analyzed
        current.usage = chunks.usage
        if let row = try await database.jobs.generation(current.jobID) {
            current.phase = row.phase
            current.outputs = row.outputs
            current.finishedAt = row.finishedAt
            current.render = row.render
        }
        observation.current = current
        return observation
    }
}
