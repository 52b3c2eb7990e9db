/// A video to process: ingest, split, analyze, assemble a timeline, render. Namespaced; short name `vj`.
public struct VideoJob: Codable, Sendable, Equatable {
    public var apiVersion: String = API.version
    public var kind: String = "VideoJob"
    public var metadata: ObjectMeta
    public var spec: VideoJobSpec
    public var status: VideoJobStatus?

    /// A VideoJob with `metadata` and `spec`, no status yet.
    public init(metadata: ObjectMeta, spec: VideoJobSpec, status: VideoJobStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// How urgent a job is; the queue claims higher priorities first.
public enum Priority: String, Codable, Sendable, CaseIterable {
    case low, normal, high, urgent
}

/// What a VideoJob asks for.
public struct VideoJobSpec: Codable, Sendable, Equatable {
    /// Free text shown to people.
    public var title: String?
    /// Who asked; used for isolation and quotas.
    public var owner: String?
    public var priority: Priority
    public var source: SourceSpec
    public var split: SplitSpec
    public var analysis: AnalysisSpec
    public var timeline: TimelineSpec
    public var render: RenderSpec
    /// Where outputs go; by default the store, under `jobs/<uid>/`.
    public var output: OutputSpec?
    public var retry: RetrySpec
    /// A suspended job keeps its progress but runs no new tasks.
    public var suspend: Bool
    /// A cancelled job stops for good: its tasks are cancelled and it ends `Failed` with the reason `Cancelled`
    /// (resubmit it as a new job to run it again). Absent means false.
    public var cancel: Bool?
    /// How long a finished job's outputs and rows are kept; forever when absent.
    public var ttlSecondsAfterFinished: Int?

    /// A spec for `source` with every other field at its default.
    public init(
        source: SourceSpec, title: String? = nil, owner: String? = nil, priority: Priority = .normal,
        split: SplitSpec = SplitSpec(), analysis: AnalysisSpec = AnalysisSpec(),
        timeline: TimelineSpec = TimelineSpec(),
        render: RenderSpec = RenderSpec(), output: OutputSpec? = nil, retry: RetrySpec = RetrySpec(),
        suspend: Bool = false, ttlSecondsAfterFinished: Int? = nil
    ) {
        self.source = source
        self.title = title
        self.owner = owner
        self.priority = priority
        self.split = split
        self.analysis = analysis
        self.timeline = timeline
        self.render = render
        self.output = output
        self.retry = retry
        self.suspend = suspend
        self.cancel = nil
        self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
    }
}

/// Where the video comes from.
public struct SourceSpec: Codable, Sendable, Equatable {
    /// `file:///abs/path` (or `file://./rel` against the declaring file's directory), `s3://bucket/key`,
    /// `http(s)://…`, `upload://<id>`.
    public var uri: String
    /// Lower-case hex SHA-256 the bytes must have.
    public var sha256: String?
    /// For an `s3://` source in Kubernetes: a Secret in the job's namespace whose keys `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) read the source instead of the workers' own credentials.
    public var credentialsSecretRef: SecretRef?

    public init(uri: String, sha256: String? = nil, credentialsSecretRef: SecretRef? = nil) {
        self.uri = uri
        self.sha256 = sha256
        self.credentialsSecretRef = credentialsSecretRef
    }
}

/// A Secret in the same namespace.
public struct SecretRef: Codable, Sendable, Equatable {
    public var name: String

    public init(name: String) { self.name = name }
}

/// How the source is cut into keyframe-aligned chunks.
public struct SplitSpec: Codable, Sendable, Equatable {
    public static let defaultTargetSeconds = 60
    public static let defaultMaxBytes = 52_428_800  // 50 MiB

    /// Chunk length to aim for; each chunk starts at the first keyframe at or after its boundary.
    public var targetSeconds: Int
    /// A chunk is cut early (at a keyframe) rather than grow past this.
    public var maxBytes: Int

    public init(targetSeconds: Int = defaultTargetSeconds, maxBytes: Int = defaultMaxBytes) {
        self.targetSeconds = targetSeconds
        self.maxBytes = maxBytes
    }
}

/// Who analyzes the chunks.
public enum AnalysisProvider: String, Codable, Sendable, CaseIterable {
    /// The offline scene analyzer.
    case local
    /// Google Gemini.
    case gemini
}

/// A key in a Kubernetes Secret.
public struct SecretKeyRef: Codable, Sendable, Equatable {
    public var name: String
    public var key: String

    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }
}

/// How each chunk is analyzed.
public struct AnalysisSpec: Codable, Sendable, Equatable {
    public static let defaultProvider = AnalysisProvider.local
    public static let defaultGeminiModel = "gemini-2.5-flash"
    /// FFmpeg scdet's default cut threshold (10 on its 0–100 scale).
    public static let defaultSceneThreshold = 0.1

    public var provider: AnalysisProvider
    /// Gemini model; `gemini-2.5-flash` when absent.
    public var model: String?
    /// Gemini prompt; a sensible default exists.
    public var prompt: String?
    /// The Secret holding the Gemini API key (Kubernetes); locally `GEMINI_API_KEY`.
    public var apiKeySecretRef: SecretKeyRef?
    /// Gemini request and token budgets per minute for the job's API key, across all workers.
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Scene-change threshold of the local scene detector, 0–1 (also snaps Gemini's timestamps).
    public var sceneThreshold: Double

    public init(
        provider: AnalysisProvider = defaultProvider, model: String? = nil, prompt: String? = nil,
        apiKeySecretRef: SecretKeyRef? = nil, sceneThreshold: Double = defaultSceneThreshold
    ) {
        self.provider = provider
        self.model = model
        self.prompt = prompt
        self.apiKeySecretRef = apiKeySecretRef
        self.sceneThreshold = sceneThreshold
    }

    /// The model to call, with its default.
    public var effectiveModel: String { model ?? Self.defaultGeminiModel }
}

/// How scenes become a timeline.
public enum TimelineStrategy: String, Codable, Sendable, CaseIterable {
    /// Every scene, in order.
    case scenes
    /// The best-scoring scenes up to `maxSeconds`, in order.
    case highlights
}

/// How the timeline is assembled.
public struct TimelineSpec: Codable, Sendable, Equatable {
    public static let defaultMaxSeconds = 90

    public var strategy: TimelineStrategy
    /// Total length of a highlights timeline.
    public var maxSeconds: Int

    public init(strategy: TimelineStrategy = .scenes, maxSeconds: Int = defaultMaxSeconds) {
        self.strategy = strategy
        self.maxSeconds = maxSeconds
    }
}

/// Whether and how an output video is rendered from the timeline.
public struct RenderSpec: Codable, Sendable, Equatable {
    /// How cuts are made.
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Every frame re-encoded: each output frame is the source frame the timeline names (the default).
        case exact
        /// Frame-accurate, re-encoding only around each cut and stream-copying the rest; `exact` when the source
        /// cannot be matched (the job's status says so).
        case smart
        /// Stream copy from the keyframe at or before each cut: fast, approximate.
        case keyframe
    }

    /// The video codec of an encoded render.
    public enum Codec: String, Codable, Sendable, CaseIterable {
        case h264, hevc
    }

    public static let defaultCRF = 20
    public static let defaultPreset = "fast"
    public static let presets = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    ]

    public var enabled: Bool
    public var mode: Mode
    public var codec: Codec
    /// Constant rate factor, 0–51 (lower is better) for `exact` and `smart`.
    public var crf: Int
    /// Encoder speed preset for `exact` and `smart`.
    public var preset: String

    public init(
        enabled: Bool = true, mode: Mode = .exact, codec: Codec = .h264, crf: Int = defaultCRF,
        preset: String = defaultPreset
    ) {
        self.enabled = enabled
        self.mode = mode
        self.codec = codec
        self.crf = crf
        self.preset = preset
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .exact
        codec = try c.decodeIfPresent(Codec.self, forKey: .codec) ?? .h264
        crf = try c.decodeIfPresent(Int.self, forKey: .crf) ?? Self.defaultCRF
        preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? Self.defaultPreset
    }
}

/// Where outputs are written.
public struct OutputSpec: Codable, Sendable, Equatable {
    /// `file:///dir/` or `s3://bucket/prefix/`.
    public var uri: String

    public init(uri: String) { self.uri = uri }
}

/// How failed tasks are retried.
public struct RetrySpec: Codable, Sendable, Equatable {
    public static let defaultMaxAttempts = 5
    public static let defaultBackoffSeconds = 5
    public static let defaultMaxBackoffSeconds = 600

    /// Attempts per task before it is dead-lettered and the job fails.
    public var maxAttempts: Int
    /// First retry delay; doubles per attempt (with jitter).
    public var backoffSeconds: Int
    /// Longest retry delay.
    public var maxBackoffSeconds: Int

    public init(
        maxAttempts: Int = defaultMaxAttempts, backoffSeconds: Int = defaultBackoffSeconds,
        maxBackoffSeconds: Int = defaultMaxBackoffSeconds
    ) {
        self.maxAttempts = maxAttempts
        self.backoffSeconds = backoffSeconds
        self.maxBackoffSeconds = maxBackoffSeconds
    }
}
