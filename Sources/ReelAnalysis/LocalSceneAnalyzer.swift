import FoundationEssentials
import ReelMedia
import ReelSupport

/// The offline analyzer: FFmpeg-style scene detection (ReelMedia), each scene described from its picture
/// statistics. Importance favours motion, then a strong cut into the scene, then length; labels say brightness,
/// motion and length.
public struct LocalSceneAnalyzer: Analyzer {
    /// Scene-change threshold, 0–1 (`spec.analysis.sceneThreshold`), on scdet's 0–100 scale ×100.
    public var sceneThreshold: Double
    /// Cuts closer than this are one scene.
    public var minSceneSeconds: Double

    public init(sceneThreshold: Double = 0.3, minSceneSeconds: Double = 0.5) {
        self.sceneThreshold = sceneThreshold
        self.minSceneSeconds = minSceneSeconds
    }

    public var name: String { "local" }
    public var model: String { "" }
    public var parameters: String { "sceneThreshold=\(sceneThreshold);minSceneSeconds=\(minSceneSeconds);v=1" }

    public func analyze(path: String, duration: Double) async throws(AnalysisError) -> ChunkAnalysis {
        let report: SceneReport
        do {
            report = try await MediaEngine.detectScenes(
                path, threshold: sceneThreshold * 100, minSceneSeconds: minSceneSeconds)
        } catch {
            throw AnalysisError(media: error)
        }
        let cutScores = Dictionary(report.cuts.map { ($0.time, $0.score) }, uniquingKeysWith: max)
        let scenes = report.scenes.map { summary in
            Self.describe(summary, cutScore: cutScores[summary.start] ?? 0)
        }
        let summary =
            scenes.isEmpty
            ? "no picture"
            : "\(scenes.count) scene\(scenes.count == 1 ? "" : "s"), \(report.cuts.count) "
                + "cut\(report.cuts.count == 1 ? "" : "s")"
        return ChunkAnalysis(
            analyzer: name, model: model, summary: summary, scenes: scenes, cuts: report.cuts.map(\.time),
            usage: AnalysisUsage())
    }

    /// A scene's labels, description and importance from its statistics.
    static func describe(_ scene: SceneSummary, cutScore: Double) -> SceneAnalysis {
        let length = scene.end - scene.start
        let brightness = scene.meanLuma < 0.25 ? "dark" : scene.meanLuma > 0.7 ? "bright" : "balanced"
        let motion = scene.motion < 0.01 ? "static" : scene.motion < 0.08 ? "moving" : "high-motion"
        let pace = length < 2 ? "short" : length > 10 ? "long" : "medium"
        let importance = min(
            1, 0.5 * min(1, scene.motion * 8) + 0.3 * min(1, cutScore / 100) + 0.2 * min(1, length / 10))
        return SceneAnalysis(
            start: scene.start, end: scene.end, importance: (importance * 1000).rounded() / 1000,
            description: "\(brightness), \(motion) scene of \(cFormat("%.1f", length)) s",
            labels: [brightness, motion, pace], meanLuma: scene.meanLuma, motion: scene.motion)
    }
}
