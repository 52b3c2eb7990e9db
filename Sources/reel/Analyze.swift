import ArgumentParser
import Foundation
import ReelCore
import ReelAnalysis
import ReelMedia
import ReelWorkerCLI

/// `reel analyze`: one file, ad hoc, with either analyzer.
struct Analyze: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze one video file with the local scene analyzer or Gemini.",
        discussion: """
            Gemini: the key comes from GEMINI_API_KEY (never printed), the endpoint from REEL_GEMINI_ENDPOINT \
            (default \(GeminiConfiguration.defaultEndpoint)). Files up to --inline-max-bytes are sent inline, larger \
            ones through the Files API's resumable upload. Model times are snapped to the cuts the local detector \
            finds (within 1 s); --json keeps both.
            """)

    enum Provider: String, ExpressibleByArgument, CaseIterable { case local, gemini }

    @Argument(help: "The video file.")
    var file: String

    @Option(help: "local or gemini.")
    var provider: Provider = .local

    @Option(help: "Gemini model.")
    var model = "gemini-2.5-flash"

    @Option(help: "Gemini prompt (a default exists).")
    var prompt: String?

    @Option(help: "Send files up to this size inline instead of uploading them.")
    var inlineMaxBytes = 15_000_000

    @Option(help: "Scene-change threshold, 0-1 (scdet score / 100).")
    var sceneThreshold = 0.1

    @Flag(help: "Print JSON.")
    var json = false

    struct Output: Encodable {
        struct Scene: Encodable {
            var start: Double
            var end: Double
            var modelStart: Double
            var description: String
            var labels: [String]
            var importance: Double
        }

        var provider: String
        var model: String
        var summary: String
        var scenes: [Scene]
        var usage: AnalysisUsage
    }

    func run() async throws {
        let info = try await MediaEngine.probe(file)
        let duration = info.duration ?? 0
        let analyzer: any Analyzer
        switch provider {
        case .local:
            analyzer = LocalSceneAnalyzer(sceneThreshold: sceneThreshold)
        case .gemini:
            let settings = ReelConfiguration()
            let key = try settings.require(nil, .geminiAPIKey, flagName: "a key")
            analyzer = GeminiAnalyzer(
                configuration: GeminiConfiguration(
                    apiKey: key,
                    endpoint: settings.value(nil, .geminiEndpoint, default: GeminiConfiguration.defaultEndpoint),
                    model: model, prompt: prompt, inlineMaxBytes: inlineMaxBytes, sceneThreshold: sceneThreshold))
        }
        let analysis: ChunkAnalysis
        do { analysis = try await analyzer.analyze(path: file, duration: duration) } catch {
            throw CLIFailure("\(file): \(error.reason): \(error.message)")
        }
        let output = Output(
            provider: provider.rawValue, model: analyzer.model.isEmpty ? "local" : analyzer.model,
            summary: analysis.summary,
            scenes: analysis.scenes.map {
                .init(
                    start: $0.start, end: $0.end, modelStart: $0.modelStart ?? $0.start, description: $0.description,
                    labels: $0.labels, importance: $0.importance)
            },
            usage: analysis.usage)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print("\(output.provider) \(output.model): \(output.summary)")
        for scene in output.scenes {
            let model = scene.modelStart != scene.start ? String(format: " (model %.2f s)", scene.modelStart) : ""
            print(
                String(format: "%8.2f – %8.2f s  %.2f  ", scene.start, scene.end, scene.importance)
                    + "\(scene.description) [\(scene.labels.joined(separator: ", "))]\(model)")
        }
        if output.usage.requests > 0 {
            print(
                "usage: \(output.usage.promptTokens) prompt + \(output.usage.outputTokens) output tokens, "
                    + "\(output.usage.requests) request(s)"
            )
        }
    }
}
