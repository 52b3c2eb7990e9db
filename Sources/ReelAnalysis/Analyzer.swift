import ReelAPI
import ReelMedia

/// One scene an analyzer found, with times in seconds relative to the analyzed file.
public struct SceneAnalysis: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double
    /// How much the scene matters, 0–1 (timeline `highlights` pick the highest).
    public var importance: Double
    public var description: String
    public var labels: [String]
    /// Signature for joining a scene cut in two by a chunk boundary (the local analyzer's mean luma and motion).
    public var meanLuma: Double?
    public var motion: Double?
    /// The model's own times before they were snapped to a cut (Gemini), relative like `start`/`end`.
    public var modelStart: Double?
    public var modelEnd: Double?

    public init(
        start: Double, end: Double, importance: Double, description: String, labels: [String],
        meanLuma: Double? = nil, motion: Double? = nil, modelStart: Double? = nil, modelEnd: Double? = nil
    ) {
        self.modelStart = modelStart
        self.modelEnd = modelEnd
        self.start = start
        self.end = end
        self.importance = importance
        self.description = description
        self.labels = labels
        self.meanLuma = meanLuma
        self.motion = motion
    }

    public var duration: Double { end - start }
}

/// Tokens and requests an analysis cost (zero for the local analyzer): the same record a VideoJob's
/// `status.usage` sums.
public typealias AnalysisUsage = JobUsage

/// What an analyzer says about one file (a chunk).
public struct ChunkAnalysis: Codable, Sendable, Equatable {
    public var analyzer: String
    public var model: String
    public var summary: String
    public var scenes: [SceneAnalysis]
    /// Hard cuts found inside the file, seconds from its start.
    public var cuts: [Double]
    public var usage: AnalysisUsage

    public init(
        analyzer: String, model: String, summary: String, scenes: [SceneAnalysis], cuts: [Double], usage: AnalysisUsage
    ) {
        self.analyzer = analyzer
        self.model = model
        self.summary = summary
        self.scenes = scenes
        self.cuts = cuts
        self.usage = usage
    }

    /// The same analysis with every time moved by `offset` seconds (a chunk's place in its source).
    public func shifted(by offset: Double) -> ChunkAnalysis {
        var copy = self
        copy.scenes = scenes.map { scene in
            var scene = scene
            scene.start += offset
            scene.end += offset
            scene.modelStart = scene.modelStart.map { $0 + offset }
            scene.modelEnd = scene.modelEnd.map { $0 + offset }
            return scene
        }
        copy.cuts = cuts.map { $0 + offset }
        return copy
    }
}

/// Why an analysis failed, and whether trying again may help.
public struct AnalysisError: Error, Sendable, CustomStringConvertible {
    /// CamelCase reason for the job's condition (`InvalidMedia`, `RateLimited`, …).
    public var reason: String
    public var message: String
    public var retryable: Bool

    public init(reason: String, message: String, retryable: Bool) {
        self.reason = reason
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(reason): \(message)" }

    /// A media failure: damaged, unsupported or missing files are `InvalidMedia` for good; I/O may pass.
    public init(media error: MediaError) {
        let permanent = error.code == .invalidData || error.code == .unsupported || error.code == .notFound
        self.init(
            reason: permanent ? "InvalidMedia" : "AnalysisFailed", message: error.description, retryable: !permanent)
    }
}

/// Something that turns a video file into scenes.
public protocol Analyzer: Sendable {
    /// `local`, `gemini`.
    var name: String { get }
    /// The model, or "" when the analyzer has none.
    var model: String { get }
    /// Every parameter that changes the result, canonically spelled: part of the cache key.
    var parameters: String { get }
    /// Analyzes the file at `path`, which is `duration` seconds long.
    func analyze(path: String, duration: Double) async throws(AnalysisError) -> ChunkAnalysis
}
