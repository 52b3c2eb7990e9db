import FoundationEssentials
import Logging
import ReelAPI
import ReelAnalysis
import ReelCore
import ReelStorage
import ReelStore
import ReelSupport

/// One stage's work: read what the earlier stages stored, do the work, and record the results under the task's
/// lease, so that a worker whose lease was rescued (or whose job was cancelled) writes nothing. A new stage is a
/// `Stage` case and a handler; `Pipeline.handler(for:)` makes the compiler ask for the second.
protocol StageHandler: Sendable {
    init(_ context: StageContext)
    func run(_ work: StageWork) async throws
}

/// What a handler is given: the claimed task and its job.
struct StageWork: Sendable {
    var task: ClaimedTask
    var job: JobRecord
    var progress: @Sendable (Double) -> Void

    var lease: Lease { task.lease }

    /// The stored source, which every stage after ingest needs.
    func sourceKey() throws(TaskFailure) -> String {
        guard let key = job.sourceKey else { throw .retryable("NotIngested", "the source is not stored yet") }
        return key
    }
}

/// What the handlers share: the database, the store, the configuration, and a few helpers.
struct StageContext: Sendable {
    let database: Database
    /// The store as opened (for what asks what kind of store it is).
    let baseStore: any ObjectStore
    /// Where the running task's storage writes are recorded (`nil` outside a task).
    var writes: TaskWrites?
    let configuration: PipelineConfiguration
    let logger: Logger
    /// The worker's scratch budget (`PipelineConfiguration.scratchLimit`), shared by its tasks.
    let scratch: ByteBudget?

    /// The store; writes through it are recorded in `writes`.
    var store: any ObjectStore { recording(baseStore) }

    /// `store`, recording its writes in the task's `writes`.
    func recording(_ store: any ObjectStore) -> any ObjectStore {
        guard let writes else { return store }
        return WatchedStore(base: store) { key in writes.record(store, key) }
    }

    /// Runs `body` holding `bytes` of the scratch budget.
    func withScratch<T>(_ work: StageWork, bytes: Int, _ body: () async throws -> T) async throws -> T {
        let held = await reserveScratch(work, bytes: bytes)
        defer { scratch?.release(held) }
        return try await body()
    }

    /// Waits for `bytes` of the scratch budget (saying so in the job's log when it has to); returns what it
    /// holds, for `scratch?.release`.
    func reserveScratch(_ work: StageWork, bytes: Int) async -> Int {
        guard let scratch, bytes > 0 else { return 0 }
        if scratch.reserved + bytes > scratch.limit {
            await log(
                work, "waiting for scratch space",
                fields: ["needs": "\(bytes)", "reserved": "\(scratch.reserved)", "limit": "\(scratch.limit)"])
        }
        await scratch.reserve(bytes)
        return bytes
    }

    /// Scratch bytes a task reading `key` needs: `outputs` times the object's size for what it writes there, plus
    /// one more when the store's object must be copied here first (S3; a file store's is read in place).
    func scratchNeed(reading key: String, outputs: Int) async throws -> Int {
        let copies = outputs + (baseStore is S3Store ? 1 : 0)
        guard copies > 0, scratch != nil else { return 0 }
        return copies * (try await store.head(key)?.bytes ?? 0)
    }

    /// Appends a line to the job's log; a line that cannot be written is reported here and the work goes on.
    func log(_ work: StageWork, level: String = "info", _ message: String, fields: [String: String]) async {
        await database.logs.write(
            job: work.job.id, task: work.lease.taskID, level: level, message, fields: fields, fallback: logger)
    }

    /// Where a job's outputs go: `spec.output.uri` (a `file://` directory inside the allowed roots, or an
    /// `s3://bucket/prefix/` reached like the store), else the store under `jobs/<uid>/`.
    func outputLocation(_ job: JobRecord) throws -> (store: any ObjectStore, prefix: String) {
        guard let uri = job.spec.output?.uri else { return (store, OutputLayout.jobPrefix(job.uid)) }
        if uri.hasPrefix("s3://") {
            try checkEndpoint(uri, of: "output")
            do {
                return (
                    recording(try ObjectStores.s3(uri, like: baseStore, scratch: configuration.scratchDirectory)), ""
                )
            } catch let error as StorageError {
                throw TaskFailure.permanent("OutputUnsupported", "output \(uri): \(error.message)")
            }
        }
        guard uri.hasPrefix("file://") else {
            throw TaskFailure.permanent(
                "OutputUnsupported", "output \(uri): outputs are file:// directories or s3:// prefixes")
        }
        let path = try configuration.allowedRoots.lexicalPath(fileURI: uri, base: nil)
        guard configuration.allowedRoots.contains(path) else {
            throw TaskFailure.permanent("OutputNotAllowed", "output \(path) is outside the allowed roots")
        }
        return (recording(try FileSystemStore(root: path)), "")
    }

    /// An `s3://…?endpoint=URL` the job names is a place the worker sends signed requests to: its host must pass
    /// the sources' address policy like any HTTP source (`SourceForbidden` / `OutputForbidden` otherwise).
    func checkEndpoint(_ uri: String, of role: String) throws(TaskFailure) {
        guard let endpoint = URLComponents(string: uri)?.queryItems?.first(where: { $0.name == "endpoint" })?.value,
            let host = URLComponents(string: endpoint)?.host
        else { return }
        if let refusal = configuration.sourceAddresses.refusal(host: host) {
            throw TaskFailure.permanent(
                role == "source" ? "SourceForbidden" : "OutputForbidden",
                "the \(role)'s S3 endpoint \(endpoint): \(refusal); jobs may not send requests to this machine or its "
                    + "private networks unless the operator allows the host (--allow-source-host)")
        }
    }

    /// A path for a temporary file in the scratch directory.
    func scratchPath(_ name: String) throws -> String {
        let directory = configuration.scratchDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return "\(directory)/\(name)"
    }

    /// Fault injection (`REEL_FAULT_DELAY`): a pause before a stage records its results.
    func pauseForFault(_ stage: Stage) async throws {
        if let delay = configuration.faultDelays[stage.rawValue] { try await Task.sleep(for: delay) }
    }
}

/// Runs claimed tasks through the handler of their stage.
public struct Pipeline: Sendable {
    let context: StageContext

    public var database: Database { context.database }
    public var store: any ObjectStore { context.baseStore }
    public var configuration: PipelineConfiguration { context.configuration }
    /// The scratch budget its tasks share (`configuration.scratchLimit`), if any.
    public var scratchBudget: ByteBudget? { context.scratch }

    public init(
        database: Database, store: any ObjectStore, configuration: PipelineConfiguration,
        logger: Logger = Logger(label: "reel.pipeline")
    ) {
        context = StageContext(
            database: database, baseStore: store, configuration: configuration, logger: logger,
            scratch: configuration.scratchLimit.map { ByteBudget(limit: $0) })
    }

    /// The handler of `stage`.
    static func handler(for stage: Stage, _ context: StageContext) -> any StageHandler {
        switch stage {
        case .ingest: IngestStage(context)
        case .split: SplitStage(context)
        case .analyze: AnalyzeStage(context)
        case .assemble: AssembleStage(context)
        case .render: RenderStage(context)
        }
    }

    /// Runs one claimed task to the point where it may be completed, recording what it writes to storage in
    /// `writes`; a task that finds its lease gone because its job was deleted removes those objects again.
    public func run(
        _ task: ClaimedTask, writes: TaskWrites = TaskWrites(), progress: @escaping @Sendable (Double) -> Void
    ) async throws(TaskFailure) {
        var context = context
        context.writes = writes
        do {
            guard let stage = task.stage else {
                throw TaskFailure.permanent("UnknownStage", "no handler for stage \(task.stageName)")
            }
            let job = try await JobRecord.load(task.jobID, from: context.database)
            _ = try Self.payload(task)
            let work = StageWork(task: task, job: job, progress: progress)
            try await Self.handler(for: stage, context).run(work)
        } catch {
            let failure = TaskFailure.from(error)
            if failure.reason == TaskFailure.leaseLost.reason { _ = await discardIfJobGone(task, writes) }
            throw failure
        }
    }

    /// The task's payload; one that is not a JSON object fails the task for good.
    static func payload(_ task: ClaimedTask) throws(TaskFailure) -> [String: JSONValue] {
        do {
            return try task.payload.decode([String: JSONValue].self)
        } catch {
            throw .permanent("InvalidTask", "task \(task.lease.taskID)'s payload is not a task payload: \(error)")
        }
    }

    /// The analyzer a spec asks for.
    public func analyzer(for spec: AnalysisSpec, namespace: String) async throws(TaskFailure) -> any Analyzer {
        try await AnalyzeStage(context).analyzer(for: spec, namespace: namespace)
    }
}
