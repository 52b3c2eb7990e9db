import FoundationEssentials
import ReelAPI
import ReelAnalysis
import ReelCore
import ReelStorage
import ReelStore
import ReelSupport

/// Analyzes one chunk with the analyzer the job asks for, from the cache when any job paid for the same chunk,
/// analyzer, model and parameters before.
struct AnalyzeStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        guard let index = work.task.chunkIndex else {
            throw TaskFailure.permanent("InvalidTask", "analyze task without a chunk")
        }
        guard let chunk = try await context.database.chunks.chunk(jobID: job.id, index: index) else {
            throw TaskFailure.retryable("ChunkMissing", "chunk \(index) is not stored")
        }
        let analyzer = try await analyzer(for: job.spec.analysis, namespace: job.namespace)
        let cacheKey = AnalysisCacheKey(
            chunkSHA256: chunk.sha256, analyzer: analyzer.name, model: analyzer.model,
            parametersHash: sha256Hex(analyzer.parameters))
        let analysis: ChunkAnalysis
        let fromCache: Bool
        if let hit = try await context.database.chunks.cachedAnalysis(cacheKey) {
            analysis = try hit.decode(ChunkAnalysis.self)
            fromCache = true
        } else {
            let copy = try await context.scratchNeed(reading: chunk.storageKey, outputs: 0)
            analysis = try await context.withScratch(work, bytes: copy) {
                try await context.store.withLocalFile(chunk.storageKey) { path in
                    try await analyzer.analyze(path: path, duration: chunk.durationSeconds)
                }
            }
            fromCache = false
        }
        try await context.pauseForFault(.analyze)
        let usage = analysis.usage
        let paid = fromCache ? JobUsage() : usage
        try await context.database.chunks.recordAnalysis(
            jobID: job.id, index: index,
            AnalysisRecord(
                cacheKey: cacheKey, relative: try JSONDocument(encoding: analysis),
                absolute: try JSONDocument(encoding: analysis.shifted(by: chunk.startSeconds)), usage: usage,
                paid: paid),
            lease: work.lease)
        await context.log(
            work, "chunk analyzed",
            fields: [
                "chunk": "\(index)", "scenes": "\(analysis.scenes.count)", "cache": fromCache ? "hit" : "miss",
                "analyzer": analyzer.name, "promptTokens": "\(paid.promptTokens)",
                "outputTokens": "\(paid.outputTokens)",
            ])
    }

    /// The analyzer a spec asks for.
    func analyzer(for spec: AnalysisSpec, namespace: String) async throws(TaskFailure) -> any Analyzer {
        switch spec.provider {
        case .local: return LocalSceneAnalyzer(sceneThreshold: spec.sceneThreshold)
        case .gemini:
            let key = try await geminiKey(for: spec, namespace: namespace)
            let settings = context.configuration.gemini
            var gemini = GeminiConfiguration(
                apiKey: key, endpoint: settings.endpoint, model: spec.effectiveModel, prompt: spec.prompt,
                sceneThreshold: spec.sceneThreshold)
            let requests = spec.requestsPerMinute ?? settings.requestsPerMinute
            let tokens = spec.tokensPerMinute ?? settings.tokensPerMinute
            if requests != nil || tokens != nil {
                gemini.budget = PostgresBudget(
                    database: context.database, keyHash: gemini.keyHash, requestsPerWindow: requests,
                    tokensPerWindow: tokens, window: settings.window)
            }
            return GeminiAnalyzer(configuration: gemini)
        }
    }

    /// The key for a Gemini job: from the Secret its `apiKeySecretRef` names (read through the Kubernetes API,
    /// kept in memory only), else `GEMINI_API_KEY`.
    func geminiKey(for spec: AnalysisSpec, namespace: String) async throws(TaskFailure) -> String {
        if let ref = spec.apiKeySecretRef {
            guard let reader = context.configuration.secretReader else {
                throw .permanent(
                    "SecretUnavailable",
                    "spec.analysis.apiKeySecretRef names Secret \(ref.name) but this worker has no Kubernetes "
                        + "access (--kube-secrets)")
            }
            do {
                return try await reader(namespace, ref)
            } catch let failure as TaskFailure {
                throw failure
            } catch {
                throw .retryable(
                    "SecretUnavailable", "cannot read key \(ref.key) of Secret \(namespace)/\(ref.name): \(error)")
            }
        }
        guard let key = context.configuration.gemini.apiKey else {
            throw .permanent("MissingAPIKey", "provider gemini needs GEMINI_API_KEY in the workers' environment")
        }
        return key
    }
}
