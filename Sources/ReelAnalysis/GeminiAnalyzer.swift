import FoundationEssentials
import ReelHTTP
import ReelMedia
import ReelSupport
import ReelAPI

/// A shared budget of requests and tokens (per API key), consulted before each billable call.
public protocol RequestBudget: Sendable {
    /// Waits until one more request estimated at `tokens` fits the budget; returns a ticket for `record`.
    func acquire(tokens: Int) async throws -> Int64
    /// Corrects a ticket's estimate with what the call really cost.
    func record(_ ticket: Int64, actual: Int) async
}

/// How the Gemini analyzer talks to the API.
public struct GeminiConfiguration: Sendable {
    public static let defaultEndpoint = "https://generativelanguage.googleapis.com"
    public static let defaultPrompt = """
        You are a video editor's assistant. Watch this clip and list its scenes in order. A scene starts at a hard \
        cut or a clear change of subject. For each scene give start and end as MM:SS from the start of this clip, \
        a one-sentence description, a few lower-case labels, and an importance from 0 (filler) to 1 (must keep). \
        Also give a one-sentence summary of the clip.
        """
    /// Bumped whenever the response schema or its parsing changes: part of the cache key.
    public static let schemaVersion = 1

    public var endpoint: String
    /// Sent only in the `x-goog-api-key` header; never logged, never stored.
    public var apiKey: String
    public var model: String
    public var prompt: String
    /// Chunks up to this size go inline (base64); larger ones through the Files API.
    public var inlineMaxBytes: Int
    /// Upload chunk size when the server names no granularity.
    public var uploadChunkBytes: Int
    /// Model times within this many seconds of a detected cut move onto it.
    public var snapTolerance: Double
    /// Threshold of the local cut detection used for snapping (scdet score / 100).
    public var sceneThreshold: Double
    public var retry: RetryPolicy
    public var pollInterval: Duration
    public var pollTimeout: Duration
    public var budget: (any RequestBudget)?

    public init(
        apiKey: String, endpoint: String = defaultEndpoint, model: String = "gemini-2.5-flash", prompt: String? = nil,
        inlineMaxBytes: Int = 15_000_000, uploadChunkBytes: Int = 8 << 20, snapTolerance: Double = 1,
        sceneThreshold: Double = 0.1, retry: RetryPolicy = RetryPolicy(maxAttempts: 6, baseDelay: .seconds(1)),
        pollInterval: Duration = .milliseconds(500), pollTimeout: Duration = .seconds(600),
        budget: (any RequestBudget)? = nil
    ) {
        self.apiKey = apiKey
        var endpoint = endpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.model = model
        self.prompt = prompt ?? Self.defaultPrompt
        self.inlineMaxBytes = inlineMaxBytes
        self.uploadChunkBytes = uploadChunkBytes
        self.snapTolerance = snapTolerance
        self.sceneThreshold = sceneThreshold
        self.retry = retry
        self.pollInterval = pollInterval
        self.pollTimeout = pollTimeout
        self.budget = budget
    }

    /// A SHA-256 of the key, to name it in budgets and logs without revealing it.
    public var keyHash: String { Self.hash(apiKey) }

    static func hash(_ text: String) -> String {
        sha256Hex(text)
    }
}

/// Google Gemini over its v1beta REST protocol: the Files API resumable upload (or inline data for small
/// chunks), polling until the file is `ACTIVE`, `generateContent` with structured output, retries that honour
/// `RetryInfo`, and model times snapped to the cuts the local detector finds.
public struct GeminiAnalyzer: Analyzer {
    public let configuration: GeminiConfiguration

    public init(configuration: GeminiConfiguration) { self.configuration = configuration }

    public var name: String { "gemini" }
    public var model: String { configuration.model }
    public var parameters: String {
        "prompt=\(GeminiConfiguration.hash(configuration.prompt));schema=\(GeminiConfiguration.schemaVersion);"
            + "snap=\(configuration.snapTolerance);sceneThreshold=\(configuration.sceneThreshold)"
    }

    public func analyze(path: String, duration: Double) async throws(AnalysisError) -> ChunkAnalysis {
        let cuts: [Double]
        do {
            cuts = try await MediaEngine.detectScenes(path, threshold: configuration.sceneThreshold * 100).cuts.map(
                \.time)
        } catch {
            throw AnalysisError(media: error)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let mimeType = Self.mimeType(path)
        var session = GeminiSession(configuration: configuration)
        let videoPart: JSONValue
        if size <= configuration.inlineMaxBytes {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AnalysisError(reason: "AnalysisFailed", message: "cannot read \(path)", retryable: true)
            }
            videoPart = ["inline_data": ["mime_type": .string(mimeType), "data": .string(data.base64EncodedString())]]
        } else {
            let uri = try await session.upload(path: path, size: size, mimeType: mimeType)
            videoPart = ["file_data": ["mime_type": .string(mimeType), "file_uri": .string(uri)]]
        }
        var answer = try await session.generate(videoPart: videoPart, brief: false)
        if answer == nil {
            // Truncated at MAX_TOKENS: ask again for a smaller answer.
            answer = try await session.generate(videoPart: videoPart, brief: true)
        }
        guard let answer else {
            throw AnalysisError(
                reason: "ResponseTruncated", message: "the answer was cut off at the token limit twice", retryable: true
            )
        }
        let scenes = answer.scenes.compactMap { scene -> SceneAnalysis? in
            guard let modelStart = GeminiTimes.seconds(scene.start), let modelEnd = GeminiTimes.seconds(scene.end)
            else { return nil }
            let start = GeminiTimes.snap(
                modelStart, duration: duration, cuts: cuts, tolerance: configuration.snapTolerance)
            let end = GeminiTimes.snap(modelEnd, duration: duration, cuts: cuts, tolerance: configuration.snapTolerance)
            guard end > start else { return nil }
            return SceneAnalysis(
                start: start, end: end, importance: min(1, max(0, scene.importance ?? 0.5)),
                description: scene.description,
                labels: scene.labels ?? [], modelStart: min(max(0, modelStart), duration),
                modelEnd: min(max(0, modelEnd), duration))
        }
        return ChunkAnalysis(
            analyzer: name, model: model, summary: answer.summary, scenes: scenes, cuts: cuts, usage: session.usage)
    }

    /// A video's media type for the Files API (MP4 when the extension says nothing).
    static func mimeType(_ path: String) -> String {
        guard let type = MediaTypes.forPath(path), type.hasPrefix("video/") else { return "video/mp4" }
        return type
    }
}

/// The structured answer.
struct GeminiAnswer: Decodable {
    struct Scene: Decodable {
        var start: String
        var end: String
        var description: String
        var labels: [String]?
        var importance: Double?

        enum CodingKeys: String, CodingKey { case start, end, description, labels, importance }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func time(_ key: CodingKeys) throws -> String {
                if let text = try? container.decode(String.self, forKey: key) { return text }
                return String(try container.decode(Double.self, forKey: key))
            }
            start = try time(.start)
            end = try time(.end)
            description = try container.decode(String.self, forKey: .description)
            labels = try container.decodeIfPresent([String].self, forKey: .labels)
            importance = try container.decodeIfPresent(Double.self, forKey: .importance)
        }
    }

    var summary: String
    var scenes: [Scene]
}
