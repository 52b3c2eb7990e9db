import FoundationEssentials
import ReelAPI
import ReelAnalysis
import ReelCore
import ReelHTTP
import ReelSupport

/// How the stages run: where they may read, how much they may download, where scratch files go.
public struct PipelineConfiguration: Sendable {
    /// Directories `file://` sources and outputs may name.
    public var allowedRoots: AllowedRoots
    /// Largest source accepted from HTTP.
    public var maxSourceBytes: Int
    /// An HTTP source that sends nothing for this long fails its attempt (a transport error, retried with
    /// backoff), instead of holding an ingest slot indefinitely.
    public var sourceStallTimeout: Duration = .seconds(30)
    /// How long connecting to an HTTP source (DNS, TCP, TLS) may take.
    public var sourceConnectTimeout: Duration = .seconds(10)
    /// Which addresses an HTTP source may be fetched from: public ones, plus what the operator allowed.
    public var sourceAddresses = AddressPolicy()
    /// The largest picture (width × height) a source may have: 8192 × 4320 (8K).
    public var maxPixels = 8192 * 4320
    /// The longest source accepted.
    public var maxDuration: Duration = .seconds(12 * 3600)
    /// Where stages keep temporary files.
    public var scratchDirectory: String
    /// Reads a key of a Secret in a job's namespace (Kubernetes: `reel worker --kube-secrets`): the Gemini key an
    /// `apiKeySecretRef` names, a source's `credentialsSecretRef`. `nil` outside a cluster, where a job that names a
    /// Secret is refused rather than run with other credentials.
    public var secretReader: (@Sendable (_ namespace: String, _ ref: SecretKeyRef) async throws -> String)?
    /// Most bytes of scratch space the worker's tasks may hold at once (S3 downloads, split chunks, renders); a
    /// task that would exceed it waits. `nil`: no limit.
    public var scratchLimit: Int?
    /// Fault injection for tests: a pause before a stage's results are written (`REEL_FAULT_DELAY=analyze=2`).
    public var faultDelays: [String: Duration]
    /// How to reach Gemini: the key (`GEMINI_API_KEY`; never logged or stored), the endpoint, and budgets that
    /// apply when a VideoJob names none.
    public var gemini: GeminiSettings

    public init(
        allowedRoots: AllowedRoots, maxSourceBytes: Int = 50 << 30,
        scratchDirectory: String = FileManager.default.temporaryDirectory.path, faultDelays: [String: Duration] = [:],
        gemini: GeminiSettings = GeminiSettings(), scratchLimit: Int? = nil
    ) {
        self.scratchLimit = scratchLimit
        self.allowedRoots = allowedRoots
        self.maxSourceBytes = maxSourceBytes
        self.scratchDirectory = scratchDirectory
        self.faultDelays = faultDelays
        self.gemini = gemini
    }
}

/// Gemini access for the analyze stage.
public struct GeminiSettings: Sendable {
    public var apiKey: String?
    public var endpoint: String
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// The budget window; a minute (tests shorten it with `REEL_RATE_LIMIT_WINDOW_SECONDS`).
    public var window: Duration

    public init(
        apiKey: String? = nil, endpoint: String = GeminiConfiguration.defaultEndpoint, requestsPerMinute: Int? = nil,
        tokensPerMinute: Int? = nil, window: Duration = .seconds(60)
    ) {
        self.apiKey = apiKey
        self.endpoint = endpoint
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.window = window
    }

    /// From `GEMINI_API_KEY`, `REEL_GEMINI_ENDPOINT` and `REEL_RATE_LIMIT_WINDOW_SECONDS`.
    public init(
        _ configuration: ReelConfiguration, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil
    ) throws(ConfigurationError) {
        self.init(
            apiKey: configuration.value(nil, .geminiAPIKey),
            endpoint: configuration.value(nil, .geminiEndpoint, default: GeminiConfiguration.defaultEndpoint),
            requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute,
            window: try configuration.seconds(.rateLimitWindowSeconds) ?? .seconds(60))
    }
}
