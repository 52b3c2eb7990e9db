import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStorage
import ReelStore
import ServiceLifecycle
import Synchronization
import ReelSupport

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
    let database: Database
    let queue: TaskQueue
    let store: any ObjectStore
    public let configuration: ReconcilerConfiguration
    let logger: Logger
    /// The keys to reconcile. A backend built before the reconciler (the reconciler reads through it) feeds
    /// the same queue: `WorkQueue.addVideoJobs`.
    public let workQueue: WorkQueue<ResourceKey>
    let jobKeys = Mutex<[Int64: ResourceKey]>([:])
    let stats = Mutex((reconciles: 0, statusWrites: 0))
    let metrics: ReconcilerMetrics

    /// A reconciler of the VideoJobs in `resources` (the `resources` table when `nil`), reporting to `events`.
    public init(
        database: Database, store: any ObjectStore, configuration: ReconcilerConfiguration,
        resources: (any ResourceSource)? = nil, events: (any ResourceEventSink)? = nil,
        workQueue: WorkQueue<ResourceKey> = WorkQueue(), logger: Logger
    ) {
        self.workQueue = workQueue
        self.database = database
        self.resources = resources ?? database.resources
        self.events = events
        self.metrics = ReconcilerMetrics(controller: "videojob")
        self.queue = database.queue()
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Reconciles and status writes so far.
    public var counts: (reconciles: Int, statusWrites: Int) { stats.withLock { $0 } }

    /// Asks for `keys` to be reconciled.
    public func enqueue(_ keys: [ResourceKey]) async { await workQueue.addVideoJobs(keys) }

    public func run() async throws {
        await workQueue.reopen()
        let listener = try database.listen([TaskQueue.jobsChannel, TenantResources.channel])
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                for await event in listener.events {
                    switch event {
                    case .listening: await resyncAll()
                    case .notification(TenantResources.channel, let payload):
                        // KIND/NAMESPACE/NAME of a resource written over HTTP.
                        let parts = payload.split(separator: "/", maxSplits: 2).map(String.init)
                        if parts.count == 3, parts[0] == VideoJob.names.kind {
                            await workQueue.add(ResourceKey(kind: parts[0], namespace: parts[1], name: parts[2]))
                        }
                    case .notification(_, let payload):
                        if let id = Int64(payload) { await enqueue(job: id) }
                    }
                }
            }
            group.addTask { [self] in
                // The listener's first `.listening` queued every job; from then on only the unsettled ones.
                while !Task.isCancelledOrShuttingDown {
                    try? await Task.sleep(for: configuration.resyncInterval)
                    await resyncUnsettled()
                }
            }
            group.addTask { [workQueue, metrics] in
                // Sleeps until the next delayed key is due or an earlier one is added; at least once a second for
                // the depth gauge (a fixed 100 ms tick woke an idle operator ten times a second).
                while !Task.isCancelledOrShuttingDown {
                    let generation = workQueue.delayedChanged.generation
                    let next = await workQueue.promoteDue()
                    metrics.depth.record(await workQueue.depth)
                    let wait = min(.seconds(1), next.map { $0 - .now } ?? .seconds(1))
                    await workQueue.delayedChanged.wait(after: generation, timeout: max(wait, .milliseconds(1)))
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

    /// Queues every VideoJob: at the start and whenever the database listener reconnects (a notification may
    /// have been missed while it was away).
    public func resyncAll() async {
        do {
            await workQueue.add(try await resources.keys(kind: VideoJob.names.kind))
        } catch {
            logger.warning("resync failed: \(error)")
        }
    }

    /// Queues the VideoJobs that are not settled (`ResourceSource.unsettledKeys`): the periodic resync, whose cost
    /// follows the work in flight, not the number of finished jobs.
    public func resyncUnsettled() async {
        do {
            await workQueue.add(try await resources.unsettledKeys(kind: VideoJob.names.kind))
        } catch {
            logger.warning("resync failed: \(error)")
        }
    }

    private func enqueue(job id: Int64) async {
        if let key = jobKeys.withLock({ $0[id] }) {
            await workQueue.add(key)
            return
        }
        do {
            // A job deleted meanwhile has no row: nothing to reconcile for it.
            guard let resource = try await database.jobs.resource(ofJob: id) else { return }
            let key = ResourceKey(kind: VideoJob.names.kind, namespace: resource.namespace, name: resource.name)
            jobKeys.withLock { $0[id] = key }
            await workQueue.add(key)
        } catch {
            // The periodic resync reaches the job anyway.
            logger.warning("cannot find the resource of job \(id): \(error)")
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
            var observed = try await observe(uid: stored.uid, generation: stored.generation)
            observed.outputOwner = try await outputOwner(stored, job)
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
    /// comes back when it will be. Where the backend cannot delete it (a file's job), it expires instead.
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
        } else {
            try await expire(stored, job: job, status: status, ttl: ttl)
        }
    }
}
