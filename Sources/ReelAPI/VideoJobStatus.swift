/// Where a job is in the pipeline.
public enum VideoJobPhase: String, Codable, Sendable, CaseIterable {
    case Pending, Ingesting, Splitting, Analyzing, Assembling, Rendering, Succeeded, Failed, Suspended
    /// Finished, then its outputs and records removed `ttlSecondsAfterFinished` later, where the resource itself
    /// cannot be deleted (a file's job); it stays so until the spec changes.
    case Expired

    /// Nothing more will happen to it in this generation.
    public var isFinished: Bool { self == .Succeeded || self == .Failed || self == .Expired }

    /// Nothing happens to it until an event: it is finished, or suspended (a task still running when it was
    /// suspended ends with a `NOTIFY`).
    public var isSettled: Bool { isFinished || self == .Suspended }

    /// The settled phases.
    public static let settled = allCases.filter(\.isSettled)
}

/// Chunk counts of a job.
public struct ChunkCounts: Codable, Sendable, Equatable {
    public var total: Int
    public var stored: Int
    public var analyzed: Int
    public var failed: Int

    public init(total: Int = 0, stored: Int = 0, analyzed: Int = 0, failed: Int = 0) {
        self.total = total
        self.stored = stored
        self.analyzed = analyzed
        self.failed = failed
    }
}

/// URIs of a job's outputs.
public struct JobOutputs: Codable, Sendable, Equatable {
    public var timeline: String?
    public var otio: String?
    public var edl: String?
    public var render: String?

    public init(timeline: String? = nil, otio: String? = nil, edl: String? = nil, render: String? = nil) {
        self.timeline = timeline
        self.otio = otio
        self.edl = edl
        self.render = render
    }
}

/// What a job's analysis cost.
public struct JobUsage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var outputTokens: Int
    public var requests: Int

    public init(promptTokens: Int = 0, outputTokens: Int = 0, requests: Int = 0) {
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.requests = requests
    }
}

/// What Reel observed of a VideoJob; written only by Reel.
public struct VideoJobStatus: Codable, Sendable, Equatable {
    public var observedGeneration: Int?
    public var phase: VideoJobPhase?
    /// Percent, monotonic within a generation.
    public var progress: Int?
    public var chunks: ChunkCounts?
    public var conditions: [Condition]?
    public var outputs: JobOutputs?
    /// Tokens and requests the analysis cost.
    public var usage: JobUsage?
    public var startTime: Timestamp?
    public var completionTime: Timestamp?

    public init(
        observedGeneration: Int? = nil, phase: VideoJobPhase? = nil, progress: Int? = nil, chunks: ChunkCounts? = nil,
        conditions: [Condition]? = nil, outputs: JobOutputs? = nil, startTime: Timestamp? = nil,
        completionTime: Timestamp? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.phase = phase
        self.progress = progress
        self.chunks = chunks
        self.conditions = conditions
        self.outputs = outputs
        self.startTime = startTime
        self.completionTime = completionTime
    }
}
