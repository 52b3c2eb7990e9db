import FoundationEssentials
import ReelAPI
import ReelCore

/// What the reconciler knows it wants: the resource as declared.
public struct DesiredJob: Sendable, Equatable {
    public var uid: String
    public var namespace: String
    public var name: String
    public var generation: Int
    public var spec: VideoJobSpec
    public var status: VideoJobStatus?
    public var finalizers: [String]
    public var deleting: Bool

    public init(
        uid: String, namespace: String, name: String, generation: Int, spec: VideoJobSpec,
        status: VideoJobStatus? = nil, finalizers: [String] = [API.cleanupFinalizer], deleting: Bool = false
    ) {
        self.uid = uid
        self.namespace = namespace
        self.name = name
        self.generation = generation
        self.spec = spec
        self.status = status
        self.finalizers = finalizers
        self.deleting = deleting
    }
}

/// Task counts of one stage of one job generation.
public struct StageTasks: Sendable, Equatable {
    public var total = 0
    public var succeeded = 0
    /// Available, retryable or running.
    public var active = 0
    public var running = 0
    public var discarded = 0
    /// The reason and message of a discarded task.
    public var failureReason: String?
    public var failureMessage: String?
    /// The attempts the failed task made.
    public var failureAttempts: Int?

    public init(
        total: Int = 0, succeeded: Int = 0, active: Int = 0, running: Int = 0, discarded: Int = 0,
        failureReason: String? = nil, failureMessage: String? = nil, failureAttempts: Int? = nil
    ) {
        self.total = total
        self.succeeded = succeeded
        self.active = active
        self.running = running
        self.discarded = discarded
        self.failureReason = failureReason
        self.failureMessage = failureMessage
        self.failureAttempts = failureAttempts
    }

    var done: Bool { total > 0 && succeeded == total }
}

/// What Postgres says about the job's current generation.
public struct ObservedJob: Sendable, Equatable {
    public var jobID: Int64
    public var phase: VideoJobPhase
    public var stages: [Stage: StageTasks]
    /// Chunks stored by split (`nil` before split finished).
    public var chunksStored: Int
    public var chunksAnalyzed: Int
    public var outputs: JobOutputs
    /// What the chunks' analyses cost.
    public var usage: JobUsage
    public var startedAt: Date
    public var finishedAt: Date?
    /// What the render stage made, once it has.
    public var render: RenderFacts?

    public init(
        jobID: Int64, phase: VideoJobPhase = .Pending, stages: [Stage: StageTasks] = [:], chunksStored: Int = 0,
        chunksAnalyzed: Int = 0, outputs: JobOutputs = JobOutputs(), usage: JobUsage = JobUsage(), startedAt: Date,
        finishedAt: Date? = nil, render: RenderFacts? = nil
    ) {
        self.render = render
        self.usage = usage
        self.jobID = jobID
        self.phase = phase
        self.stages = stages
        self.chunksStored = chunksStored
        self.chunksAnalyzed = chunksAnalyzed
        self.outputs = outputs
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Everything observed about a VideoJob.
public struct Observation: Sendable, Equatable {
    /// The `processing_jobs` row of the resource's current generation, with its tasks and chunks.
    public var current: ObservedJob?
    /// Rows of other generations that still have unfinished tasks.
    public var staleJobsWithActiveTasks: [Int64]
    /// Every `processing_jobs` row of the resource (any generation).
    public var allJobIDs: [Int64]
    /// Older generations whose tasks have stopped and whose stored source or chunks are still there.
    public var superseded: [SupersededJob]
    /// Another VideoJob (`namespace/name`) already writes to this job's `spec.output.uri`.
    public var outputOwner: String?

    public init(
        current: ObservedJob? = nil, staleJobsWithActiveTasks: [Int64] = [], allJobIDs: [Int64] = [],
        superseded: [SupersededJob] = []
    ) {
        self.current = current
        self.staleJobsWithActiveTasks = staleJobsWithActiveTasks
        self.allJobIDs = allJobIDs
        self.superseded = superseded
    }
}

/// A generation a newer one replaced.
public struct SupersededJob: Sendable, Equatable {
    public var jobID: Int64
    public var generation: Int64

    public init(jobID: Int64, generation: Int64) {
        self.jobID = jobID
        self.generation = generation
    }
}

/// One step the reconciler takes.
public enum Action: Sendable, Equatable {
    /// Add `reel.dev/cleanup` before any work starts.
    case addFinalizer
    /// Create the `processing_jobs` row for the current generation (then plan again).
    case createJob
    /// Cancel the unfinished tasks of these jobs.
    case cancelTasks([Int64])
    /// Enqueue tasks of `stage` for the current job (`chunks` for analyze, `nil` for job-level stages).
    case enqueue(Stage, chunks: [Int]?)
    /// Record the job's phase in `processing_jobs`.
    case recordPhase(VideoJobPhase, progress: Int, reason: String?, message: String?)
    /// Write the status subresource.
    case writeStatus(VideoJobStatus)
    /// Remove what these replaced generations stored and end them (`Superseded` unless they had finished).
    case retire([SupersededJob])
    /// Delete stored objects and rows of these jobs.
    case cleanup([Int64])
    /// Remove `reel.dev/cleanup` (the resource then goes away).
    case removeFinalizer
}
