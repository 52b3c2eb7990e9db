import Foundation
import Logging
import ReelAPI
import ReelPipeline
import ReelPostgres
import ReelStorage
import ReelStore
import ServiceLifecycle
import Synchronization

/// How the reconciler runs.
public struct ReconcilerConfiguration: Sendable {
    /// Keys reconciled at once.
    public var concurrency: Int
    /// Every resource is looked at again this often, whatever happened.
    public var resyncInterval: Duration
    /// Where status is mirrored as YAML (`DIR/NAMESPACE/KIND/NAME.yaml`); none when `nil`.
    public var statusDirectory: String?
    /// Allowed roots, to find outputs written outside the store on cleanup.
    public var allowedRoots: AllowedRoots

    public init(
        concurrency: Int = 4, resyncInterval: Duration = .seconds(30), statusDirectory: String? = nil,
        allowedRoots: AllowedRoots = AllowedRoots([])
    ) {
        self.concurrency = concurrency
        self.resyncInterval = resyncInterval
        self.statusDirectory = statusDirectory
        self.allowedRoots = allowedRoots
    }
}

/// Level-triggered reconciliation of VideoJobs: for each key, observe Postgres, `JobPlanner.plan`, apply the
/// actions. Woken by resource changes (`enqueue`), by `NOTIFY reel_jobs` when a job's tasks change, and by a
/// periodic resync; failed keys retry with per-key backoff.
public final class Reconciler: Service {
    /// Where desired state comes from and status goes.
    public let resources: any ResourceSource
    let events: (any ResourceEventSink)?
    let pool: PostgresPool
    let queue: TaskQueue
    let store: any ObjectStore
    let databaseURL: String
    public let configuration: ReconcilerConfiguration
    let logger: Logger
    public let workQueue = WorkQueue<ResourceKey>()
    private let jobKeys = Mutex<[Int64: ResourceKey]>([:])
    private let stats = Mutex((reconciles: 0, statusWrites: 0))
    let metrics: ReconcilerMetrics

    /// A reconciler of the VideoJobs in `resources` (the `resources` table when `nil`), reporting to `events`.
    public init(
        pool: PostgresPool, databaseURL: String, store: any ObjectStore, configuration: ReconcilerConfiguration,
        resources: (any ResourceSource)? = nil, events: (any ResourceEventSink)? = nil, logger: Logger
    ) {
        self.pool = pool
        self.resources = resources ?? ResourceTable(pool: pool)
        self.events = events
        self.metrics = ReconcilerMetrics(controller: "videojob")
        self.queue = TaskQueue(pool: pool)
        self.store = store
        self.databaseURL = databaseURL
        self.configuration = configuration
        self.logger = logger
    }

    /// Reconciles and status writes so far.
    public var counts: (reconciles: Int, statusWrites: Int) { stats.withLock { $0 } }

    /// Asks for `keys` to be reconciled.
    public func enqueue(_ keys: [ResourceKey]) async {
        await workQueue.add(keys.filter { $0.kind == VideoJob.names.kind })
    }

    public func run() async throws {
        await workQueue.reopen()
        let listener = try PostgresListener(url: databaseURL, channels: [TaskQueue.jobsChannel])
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                for await event in listener.events {
                    switch event {
                    case .listening: await resyncAll()
                    case .notification(let note):
                        if let id = Int64(note.payload) { await enqueue(job: id) }
                    }
                }
            }
            group.addTask { [self] in
                while !Task.isCancelledOrShuttingDown {
                    await resyncAll()
                    try? await Task.sleep(for: configuration.resyncInterval)
                }
            }
            group.addTask { [workQueue, metrics] in
                while !Task.isCancelledOrShuttingDown {
                    await workQueue.promoteDue()
                    metrics.depth.record(await workQueue.depth)
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            for _ in 0..<configuration.concurrency {
                group.addTask { [self] in
                    while let key = await workQueue.next() {
                        await process(key)
                        await workQueue.done(key)
                    }
                }
            }
            // Returns when the group shuts down gracefully (or throws when it is cancelled).
            try? await gracefulShutdown()
            listener.stop()
            await workQueue.shutdown()
            group.cancelAll()
        }
    }

    /// Queues every VideoJob.
    public func resyncAll() async {
        do {
            await workQueue.add(try await resources.list(kind: VideoJob.names.kind).map(\.key))
        } catch {
            logger.warning("resync failed: \(error)")
        }
    }

    private func enqueue(job id: Int64) async {
        if let key = jobKeys.withLock({ $0[id] }) {
            await workQueue.add(key)
            return
        }
        let rows = try? await pool.query("SELECT namespace, name FROM processing_jobs WHERE id = $1", [id])
        if let row = rows?.first, let namespace: String = try? row.decode(at: 0),
            let name: String = try? row.decode(at: 1)
        {
            let key = ResourceKey(kind: VideoJob.names.kind, namespace: namespace, name: name)
            jobKeys.withLock { $0[id] = key }
            await workQueue.add(key)
        }
    }

    private func process(_ key: ResourceKey) async {
        let started = ContinuousClock.now
        defer { metrics.time.record(duration: ContinuousClock.now - started) }
        do {
            try await reconcile(key)
            await workQueue.forget(key)
        } catch {
            metrics.errors.increment()
            let delay = await workQueue.backoff(for: key)
            logger.warning("reconcile of \(key) failed; retrying in \(delay): \(error)")
            await workQueue.add(key, at: .now + delay)
        }
    }

    /// Brings one VideoJob in line with what it asks for.
    public func reconcile(_ key: ResourceKey) async throws {
        guard key.kind == VideoJob.names.kind else { return }
        stats.withLock { $0.reconciles += 1 }
        metrics.reconciles.increment()
        for _ in 0..<4 {
            guard let stored = try await resources.get(key) else { return }
            let job = try stored.videoJob()
            let desired = DesiredJob(
                uid: stored.uid, namespace: key.namespace, name: key.name, generation: Int(stored.generation),
                spec: job.spec, status: job.status, finalizers: stored.finalizers,
                deleting: stored.deletionTimestamp != nil)
            let observed = try await observe(uid: stored.uid, generation: stored.generation)
            if let id = observed.current?.jobID { jobKeys.withLock { $0[id] = key } }
            let actions = JobPlanner.plan(desired, observed, now: Date())
            var again = false
            for action in actions {
                if try await apply(action, stored: stored, job: job, observed: observed) { again = true }
            }
            if !again {
                // Read again only for a job that asks to expire: its status may have just become terminal.
                if job.spec.ttlSecondsAfterFinished != nil { try await expireIfDue(key) }
                return
            }
        }
    }

    /// `ttlSecondsAfterFinished`: deletes a finished job once its time is up (its finalizer then cleans up), or
    /// comes back when it will be. Only where the backend lets Reel delete (Kubernetes; not files).
    private func expireIfDue(_ key: ResourceKey) async throws {
        guard let stored = try await resources.get(key), stored.deletionTimestamp == nil else { return }
        let job = try stored.videoJob()
        guard let ttl = job.spec.ttlSecondsAfterFinished, let status = job.status,
            status.observedGeneration == Int(stored.generation), status.phase == .Succeeded || status.phase == .Failed,
            let finished = status.completionTime?.date
        else { return }
        let remaining = finished.addingTimeInterval(TimeInterval(ttl)).timeIntervalSinceNow
        if remaining > 0 {
            await workQueue.add(key, at: .now + .milliseconds(Int(remaining * 1000) + 1))
        } else if try await resources.delete(stored) {
            logger.info("\(key) deleted \(ttl) s after it finished (ttlSecondsAfterFinished)")
            await events?.record(
                stored, type: "Normal", reason: "Expired", action: "Delete",
                note: "deleted \(ttl) s after it finished (ttlSecondsAfterFinished)")
        }
    }

    /// Applies one action; `true` when the plan must be made again (the observation changed).
    private func apply(_ action: Action, stored: StoredResource, job: VideoJob, observed: Observation) async throws
        -> Bool
    {
        let key = stored.key
        switch action {
        case .addFinalizer:
            try await resources.addFinalizer(stored, API.cleanupFinalizer)
            return true
        case .createJob:
            _ = try await JobStore(pool: pool).upsertJob(
                resourceUID: stored.uid, namespace: key.namespace, name: key.name, generation: stored.generation,
                spec: stored.spec)
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
            let spec = job.spec
            let payload = try PostgresJSON(
                encoding: TaskPayload(
                    uid: stored.uid, namespace: key.namespace, name: key.name,
                    sourceBase: stored.sourceFile.map { ($0 as NSString).deletingLastPathComponent }))
            let tasks = (chunks.map { $0.map(Optional.some) } ?? [nil]).map { chunk in
                NewTask(
                    jobID: jobID, generation: stored.generation, stage: stage.rawValue, chunkIndex: chunk,
                    priority: Self.priority(spec.priority), maxAttempts: spec.retry.maxAttempts,
                    backoffSeconds: Double(spec.retry.backoffSeconds),
                    maxBackoffSeconds: Double(spec.retry.maxBackoffSeconds),
                    payload: payload)
            }
            try await queue.enqueue(tasks)
            return false
        case .recordPhase(let phase, let progress, let reason, let message):
            guard let jobID = observed.current?.jobID else { return false }
            try await pool.query(
                """
                UPDATE processing_jobs SET phase = $2, progress = $3, error_reason = $4, error_message = $5,
                    finished_at = CASE WHEN $2 IN ('Succeeded', 'Failed') THEN coalesce(finished_at, now()) END,
                    updated_at = now()
                WHERE id = $1
                """, [jobID, phase.rawValue, progress, reason, message])
            if phase == .Failed {
                logger.error("\(key) failed: \(reason ?? "Failed"): \(message ?? "")")
            } else if phase == .Succeeded {
                logger.info("\(key) succeeded")
            }
            return false
        case .writeStatus(let status):
            if try await resources.updateStatus(stored, status: try PostgresJSON(encoding: status)) {
                stats.withLock { $0.statusWrites += 1 }
                if configuration.statusDirectory != nil {
                    var mirrored = job
                    mirrored.status = status
                    mirrored.metadata = (try await resources.get(key)?.metadata) ?? job.metadata
                    mirror(mirrored, key: key)
                }
                if let phase = status.phase, phase != job.status?.phase {
                    await reportPhase(phase, status: status, stored: stored)
                }
            }
            return false
        case .cleanup(let ids):
            let removed = try await store.delete(prefix: "jobs/\(stored.uid)")
            if let uri = job.spec.output?.uri, uri.hasPrefix("file://"),
                let path = try? configuration.allowedRoots.lexicalPath(
                    fileURI: uri, base: stored.sourceFile.map { ($0 as NSString).deletingLastPathComponent }),
                configuration.allowedRoots.contains(path)
            {
                for name in ["timeline.json", "timeline.otio", "timeline.edl", "render.mp4"] {
                    try? FileManager.default.removeItem(atPath: "\(path)/\(name)")
                }
            }
            // Every generation's row (chunks, tasks and logs go with them).
            try await pool.query("DELETE FROM processing_jobs WHERE resource_uid = $1", [stored.uid])
            jobKeys.withLock { map in for id in ids { map[id] = nil } }
            if let directory = configuration.statusDirectory {
                try? FileManager.default.removeItem(atPath: Self.mirrorPath(directory, key))
            }
            logger.info("\(key) deleted: \(removed) stored objects and \(ids.count) job records removed")
            await events?.record(
                stored, type: "Normal", reason: "CleanedUp", action: "Cleanup",
                note: "removed \(removed) stored objects and \(ids.count) job records")
            return false
        case .removeFinalizer:
            try await resources.removeFinalizer(stored, API.cleanupFinalizer)
            return false
        }
    }

    /// An Event for a phase change: the stage reached, success, or the failure's reason.
    private func reportPhase(_ phase: VideoJobPhase, status: VideoJobStatus, stored: StoredResource) async {
        guard let events else { return }
        let ready = status.conditions?.first { $0.type == "Succeeded" }
        switch phase {
        case .Failed:
            await events.record(
                stored, type: "Warning", reason: ready?.reason ?? "Failed", action: "Process",
                note: ready?.message ?? "the job failed")
        case .Succeeded:
            await events.record(
                stored, type: "Normal", reason: "Succeeded", action: "Process",
                note: ready?.message ?? "outputs written")
        default:
            await events.record(
                stored, type: "Normal", reason: phase.rawValue, action: "Process", note: "phase \(phase.rawValue)")
        }
    }

    static func priority(_ priority: Priority) -> Int {
        switch priority {
        case .urgent: 0
        case .high: 1
        case .normal: 2
        case .low: 3
        }
    }

    static func mirrorPath(_ directory: String, _ key: ResourceKey) -> String {
        "\(directory)/\(key.namespace)/\(key.kind)/\(key.name).yaml"
    }

    private func mirror(_ job: VideoJob, key: ResourceKey) {
        guard let directory = configuration.statusDirectory else { return }
        let path = Self.mirrorPath(directory, key)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let temporary = path + ".partial"
            try ResourceRendering.yaml(job).write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, path)
        } catch {
            logger.warning("cannot mirror status to \(path): \(error)")
        }
    }

    /// Reads what Postgres holds about a resource's jobs.
    func observe(uid: String, generation: Int64) async throws -> Observation {
        let jobs = try await pool.query(
            """
            SELECT id, generation, phase, outputs, started_at, finished_at, created_at, render_facts
            FROM processing_jobs WHERE resource_uid = $1
            """,
            [uid])
        var observation = Observation()
        var others: [Int64] = []
        for row in jobs {
            let id: Int64 = try row.decode(at: 0)
            observation.allJobIDs.append(id)
            guard try row.decode(Int64.self, at: 1) == generation else {
                others.append(id)
                continue
            }
            observation.current = ObservedJob(
                jobID: id, phase: try row.decode(at: 2),
                outputs: try row.decode(PostgresJSON.self, at: 3).decode(JobOutputs.self),
                startedAt: try row.decodeIfPresent(at: 4) ?? row.decode(at: 6),
                finishedAt: try row.decodeIfPresent(at: 5),
                render: try row.decodeIfPresent(PostgresJSON.self, at: 7)?.decode(RenderFacts.self))
        }
        if !others.isEmpty {
            let active = try await pool.query(
                """
                SELECT DISTINCT job_id FROM job_queue
                WHERE job_id = ANY($1::bigint[]) AND state IN ('available', 'retryable', 'running')
                """, [others])
            observation.staleJobsWithActiveTasks = try active.map { try $0.decode(Int64.self, at: 0) }.sorted()
        }
        guard var current = observation.current else { return observation }
        let counts = try await pool.query(
            """
            SELECT stage, state, count(*)::bigint, max(attempt) FROM job_queue WHERE job_id = $1 GROUP BY stage, state
            """, [current.jobID])
        for row in counts {
            guard let stage = Stage(rawValue: try row.decode(String.self, at: 0)) else { continue }
            let count: Int = try row.decode(at: 2)
            var tasks = current.stages[stage] ?? StageTasks()
            tasks.total += count
            switch try row.decode(String.self, at: 1) {
            case "succeeded": tasks.succeeded += count
            case "running":
                tasks.running += count
                tasks.active += count
            case "available", "retryable": tasks.active += count
            case "discarded": tasks.discarded += count
            default: break
            }
            current.stages[stage] = tasks
        }
        if current.stages.values.contains(where: { $0.discarded > 0 }) {
            let failures = try await pool.query(
                """
                SELECT DISTINCT ON (stage) stage, last_reason, last_error, attempt FROM job_queue
                WHERE job_id = $1 AND state = 'discarded' ORDER BY stage, finished_at, id
                """, [current.jobID])
            for row in failures {
                guard let stage = Stage(rawValue: try row.decode(String.self, at: 0)) else { continue }
                current.stages[stage]?.failureReason = try row.decodeIfPresent(at: 1)
                current.stages[stage]?.failureMessage = try row.decodeIfPresent(at: 2)
                current.stages[stage]?.failureAttempts = try row.decodeIfPresent(at: 3)
            }
        }
        let chunks = try await pool.query(
            """
            SELECT count(*)::bigint, count(analysis)::bigint, coalesce(sum(prompt_tokens), 0)::bigint,
                   coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(requests), 0)::bigint
            FROM video_chunks WHERE job_id = $1
            """, [current.jobID])
        if let row = chunks.first {
            current.chunksStored = try row.decode(at: 0)
            current.chunksAnalyzed = try row.decode(at: 1)
            current.usage = JobUsage(
                promptTokens: try row.decode(at: 2), outputTokens: try row.decode(at: 3),
                requests: try row.decode(at: 4))
        }
        observation.current = current
        return observation
    }
}
