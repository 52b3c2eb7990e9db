import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// The action executor: what each action of `JobPlanner.plan` does to the database, the resource and the store.
extension Reconciler {
    /// Applies one action; `true` when the plan must be made again (the observation changed).
    func apply(_ action: Action, stored: StoredResource, job: VideoJob, observed: Observation) async throws -> Bool {
        let key = stored.key
        switch action {
        case .addFinalizer:
            try await resources.addFinalizer(stored, API.cleanupFinalizer)
            return true
        case .createJob:
            guard try await claimOutput(stored, job) else { return true }  // another job's output: plan again
            try await database.jobs.upsertJob(
                resourceUID: stored.uid, namespace: key.namespace, name: key.name, generation: stored.generation,
                spec: try stored.processingSpec())
            logger.info("\(key): processing generation \(stored.generation)")
            await events?.record(
                stored, type: "Normal", reason: "Processing", action: "Queue",
                note: "processing generation \(stored.generation)")
            return true
        case .cancelTasks(let ids):
            for id in ids { try await queue.cancel(jobID: id) }
            return false
        case .enqueue(let stage, let chunks):
            guard let jobID = observed.current?.jobID else { return false }
            try await enqueue(stage, chunks: chunks, jobID: jobID, stored: stored, spec: job.spec)
            return false
        case .recordPhase(let phase, let progress, let reason, let message):
            guard let jobID = observed.current?.jobID else { return false }
            try await database.jobs.recordPhase(
                jobID, phase: phase, progress: progress, reason: reason, message: message)
            if phase == .Failed {
                logger.error("\(key) failed: \(reason ?? "Failed"): \(message ?? "")")
            } else if phase == .Succeeded {
                logger.info("\(key) succeeded")
            }
            return false
        case .writeStatus(let status):
            try await writeStatus(status, stored: stored, job: job)
            return false
        case .retire(let jobs):
            for old in jobs {
                let removed = try await store.delete(
                    prefix: OutputLayout.generationPrefix(uid: stored.uid, generation: old.generation))
                try await database.jobs.retire(old.jobID, by: Int64(stored.generation))
                logger.info("\(key): generation \(old.generation) retired (\(removed) stored objects removed)")
            }
            return false
        case .cleanup(let ids):
            try await cleanUp(stored, job: job, jobIDs: ids)
            return false
        case .removeFinalizer:
            try await resources.removeFinalizer(stored, API.cleanupFinalizer)
            await publish("job.deleted", stored: stored, status: try stored.status?.decode(VideoJobStatus.self))
            return false
        }
    }

    /// Queues a stage's tasks: one per chunk, or one for the job.
    private func enqueue(_ stage: Stage, chunks: [Int]?, jobID: Int64, stored: StoredResource, spec: VideoJobSpec)
        async throws
    {
        let payload = try JSONDocument(
            encoding: TaskPayload(uid: stored.uid, namespace: stored.key.namespace, name: stored.key.name))
        let tasks = (chunks.map { $0.map(Optional.some) } ?? [nil]).map { chunk in
            NewTask(
                jobID: jobID, generation: stored.generation, stage: stage, chunkIndex: chunk,
                priority: Self.priority(spec.priority), maxAttempts: spec.retry.maxAttempts,
                backoffSeconds: Double(spec.retry.backoffSeconds),
                maxBackoffSeconds: Double(spec.retry.maxBackoffSeconds), payload: payload)
        }
        try await queue.enqueue(tasks)
    }

    static func priority(_ priority: Priority) -> Int {
        switch priority {
        case .urgent: 0
        case .high: 1
        case .normal: 2
        case .low: 3
        }
    }
}
