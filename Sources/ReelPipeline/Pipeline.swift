import Crypto
import Foundation
import Logging
import ReelAPI
import ReelAnalysis
import ReelHTTP
import ReelMedia
import ReelPostgres
import ReelStorage
import ReelStore

/// How the stages run: where they may read, how much they may download, where scratch files go.
public struct PipelineConfiguration: Sendable {
    /// Directories `file://` sources and outputs may name.
    public var allowedRoots: AllowedRoots
    /// Largest source accepted from HTTP.
    public var maxSourceBytes: Int
    /// Where stages keep temporary files.
    public var scratchDirectory: String
    /// Fault injection for tests: a pause before a stage's results are written (`REEL_FAULT_DELAY=analyze=2`).
    public var faultDelays: [String: Duration]
    /// How to reach Gemini: the key (`GEMINI_API_KEY`; never logged or stored), the endpoint, and budgets that
    /// apply when a VideoJob names none.
    public var gemini: GeminiSettings

    public init(
        allowedRoots: AllowedRoots, maxSourceBytes: Int = 50 << 30,
        scratchDirectory: String = FileManager.default.temporaryDirectory.path, faultDelays: [String: Duration] = [:],
        gemini: GeminiSettings = GeminiSettings()
    ) {
        self.allowedRoots = allowedRoots
        self.maxSourceBytes = maxSourceBytes
        self.scratchDirectory = scratchDirectory
        self.faultDelays = faultDelays
        self.gemini = gemini
    }

    /// Parses `stage=seconds[,stage=seconds]`.
    public static func parseFaultDelays(_ text: String?) -> [String: Duration] {
        var delays: [String: Duration] = [:]
        for item in (text ?? "").split(separator: ",") {
            let parts = item.split(separator: "=")
            if parts.count == 2, let seconds = Double(parts[1]) {
                delays[String(parts[0])] = .milliseconds(Int(seconds * 1000))
            }
        }
        return delays
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
    /// Reads the key a job's `apiKeySecretRef` names, in the job's namespace (Kubernetes); `nil` outside a
    /// cluster, where such a job is refused rather than run with another key.
    public var secretReader: (@Sendable (_ namespace: String, _ ref: SecretKeyRef) async throws -> String)?

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
    public static func fromEnvironment(
        _ environment: [String: String], requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil
    ) -> GeminiSettings {
        GeminiSettings(
            apiKey: environment["GEMINI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 },
            endpoint: environment["REEL_GEMINI_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
                ?? GeminiConfiguration.defaultEndpoint,
            requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute,
            window: environment["REEL_RATE_LIMIT_WINDOW_SECONDS"].flatMap(Double.init).map {
                .milliseconds(Int($0 * 1000))
            }
                ?? .seconds(60))
    }
}

/// The five stage handlers. Each reads what the earlier stages stored, does its work, and writes its results in
/// a transaction that first re-checks the task's lease (fencing): a worker whose lease was rescued writes nothing.
public struct Pipeline: Sendable {
    public let pool: PostgresPool
    public let store: any ObjectStore
    public let configuration: PipelineConfiguration
    let log: JobLog

    public init(pool: PostgresPool, store: any ObjectStore, configuration: PipelineConfiguration) {
        self.pool = pool
        self.store = store
        self.configuration = configuration
        self.log = JobLog(pool: pool)
    }

    /// Runs one claimed task to the point where it may be completed.
    public func run(_ task: ClaimedTask, progress: @escaping @Sendable (Double) -> Void) async throws(TaskFailure) {
        do {
            let job = try await JobRecord.load(task.jobID, from: pool)
            let payload = (try? task.payload.decode(TaskPayload.self))
            switch Stage(rawValue: task.stage) {
            case .ingest: try await ingest(task, job, base: payload?.sourceBase)
            case .split: try await split(task, job)
            case .analyze: try await analyze(task, job)
            case .assemble: try await assemble(task, job, base: payload?.sourceBase)
            case .render: try await render(task, job, base: payload?.sourceBase, progress: progress)
            case nil: throw TaskFailure.permanent("UnknownStage", "no handler for stage \(task.stage)")
            }
        } catch {
            throw TaskFailure.from(error)
        }
    }

    // MARK: ingest

    func ingest(_ task: ClaimedTask, _ job: JobRecord, base: String?) async throws {
        try preflight(job, base: base)
        let uri = job.spec.source.uri
        let name = Self.objectName(uri)
        let key = "jobs/\(job.uid)/source/\(name)"
        let stored: StoredObject
        if uri.hasPrefix("file://") {
            let path = try configuration.allowedRoots.resolve(fileURI: uri, base: base)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw TaskFailure.permanent("SourceNotFound", "\(path) is a directory, not a video file")
            }
            stored = try await store.put(key, fromFile: path)
        } else if uri.hasPrefix("http://") || uri.hasPrefix("https://") {
            let scratch = try scratchPath("download-\(task.lease.taskID)")
            do {
                _ = try await HTTPClient.download(uri, to: scratch, maxBytes: configuration.maxSourceBytes)
            } catch {
                throw TaskFailure.from(error)
            }
            stored = try await store.put(key, movingFile: scratch)
        } else {
            let scheme = uri.split(separator: ":").first.map(String.init) ?? uri
            throw TaskFailure.permanent("SourceUnsupported", "\(scheme):// sources are not supported by this build")
        }
        if let expected = job.spec.source.sha256?.lowercased(), expected != stored.sha256 {
            throw TaskFailure.permanent(
                "ChecksumMismatch", "source sha256 is \(stored.sha256 ?? "?"), spec.source.sha256 says \(expected)")
        }
        let info: MediaInfo
        let local = try await store.localFile(key)
        do { info = try await MediaEngine.probe(local) } catch {
            throw TaskFailure.permanent("InvalidMedia", "\(name): \(error.message)")
        }
        guard let video = info.streams.first(where: { $0.kind == .video }) else {
            throw TaskFailure.permanent("InvalidMedia", "\(name) has no video stream")
        }
        if job.spec.render.enabled,
            let problem = renderProblem(videoCodec: video.codec, options: RenderOptions(job.spec.render))
        {
            throw TaskFailure.permanent("RenderUnsupported", "\(name): \(problem)")
        }
        try await pauseForFault("ingest")
        try await fenced(task.lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs SET source_key = $2, source_name = $3, source_bytes = $4, source_sha256 = $5,
                    source_duration = $6, source_streams = $7::jsonb, updated_at = now()
                WHERE id = $1
                """,
                [
                    job.id, key, name, stored.bytes, stored.sha256, info.duration,
                    try PostgresJSON(encoding: info.streams),
                ])
        }
        await log.write(
            job: job.id, task: task.lease.taskID, level: "info", "source stored",
            fields: ["bytes": "\(stored.bytes)", "sha256": stored.sha256 ?? "", "duration": "\(info.duration ?? 0)"])
    }

    /// Refuses before any work what would otherwise fail only at the end: an output the job may not or cannot
    /// write, a render codec this build lacks.
    func preflight(_ job: JobRecord, base: String?) throws {
        if let uri = job.spec.output?.uri {
            _ = try outputLocation(job, base: base)
            let path = try configuration.allowedRoots.lexicalPath(fileURI: uri, base: base)
            guard FileManager.default.isWritableFile(atPath: path) else {
                throw TaskFailure.permanent("OutputNotWritable", "output \(path) is not writable")
            }
        }
        if job.spec.render.enabled, let problem = renderProblem(options: RenderOptions(job.spec.render)) {
            throw TaskFailure.permanent("RenderUnsupported", problem)
        }
    }

    /// A safe object name from the last path segment of a URI.
    static func objectName(_ uri: String) -> String {
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        let last = path.split(separator: "/").last.map(String.init) ?? "source"
        let cleaned = String(last.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" }).prefix(120)
        return cleaned.isEmpty || cleaned.allSatisfy({ $0 == "." }) ? "source" : String(cleaned)
    }

    // MARK: split

    func split(_ task: ClaimedTask, _ job: JobRecord) async throws {
        guard let sourceKey = job.sourceKey else {
            throw TaskFailure.retryable("NotIngested", "the source is not stored yet")
        }
        let source = try await store.localFile(sourceKey)
        let directory = try scratchPath("split-\(task.lease.taskID)-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let chunks: [Chunk]
        do {
            chunks = try await MediaEngine.split(
                source, targetSeconds: Double(job.spec.split.targetSeconds), maxBytes: job.spec.split.maxBytes,
                outputDirectory: directory)
        } catch { throw TaskFailure.from(error) }
        guard !chunks.isEmpty else { throw TaskFailure.permanent("InvalidMedia", "the source has no video packets") }
        var objects: [(Chunk, StoredObject)] = []
        for chunk in chunks {
            let ext = (chunk.path as NSString).pathExtension
            objects.append(
                (chunk, try await store.put("jobs/\(job.uid)/chunks/\(chunk.index).\(ext)", movingFile: chunk.path)))
        }
        let stored = objects
        try await pauseForFault("split")
        try await fenced(task.lease) { connection in
            try await connection.query("DELETE FROM video_chunks WHERE job_id = $1", [job.id])
            try await connection.query(
                """
                INSERT INTO video_chunks (job_id, chunk_index, start_seconds, start_numerator, start_denominator,
                                          duration_seconds, bytes, sha256, storage_key)
                SELECT $1, t.* FROM unnest($2::integer[], $3::double precision[], $4::bigint[], $5::bigint[],
                                           $6::double precision[], $7::bigint[], $8::text[], $9::text[]) AS t
                """,
                [
                    job.id, stored.map(\.0.index), stored.map(\.0.start), stored.map(\.0.startExact.numerator),
                    stored.map(\.0.startExact.denominator), stored.map(\.0.duration), stored.map(\.1.bytes),
                    stored.map { $0.1.sha256 ?? "" }, stored.map(\.1.key),
                ])
        }
        await log.write(
            job: job.id, task: task.lease.taskID, level: "info", "source split", fields: ["chunks": "\(chunks.count)"])
    }

    // MARK: analyze

    /// The key for a Gemini job: from the Secret its `apiKeySecretRef` names (read through the Kubernetes API,
    /// kept in memory only), else `GEMINI_API_KEY`.
    func geminiKey(for spec: AnalysisSpec, namespace: String) async throws(TaskFailure) -> String {
        if let ref = spec.apiKeySecretRef {
            guard let reader = configuration.gemini.secretReader else {
                throw .permanent(
                    "SecretUnavailable",
                    "spec.analysis.apiKeySecretRef names Secret \(ref.name) but this worker has no Kubernetes "
                        + "access (--kube-secrets)"
                )
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
        guard let key = configuration.gemini.apiKey else {
            throw .permanent("MissingAPIKey", "provider gemini needs GEMINI_API_KEY in the workers' environment")
        }
        return key
    }

    /// The analyzer a spec asks for.
    public func analyzer(for spec: AnalysisSpec, namespace: String) async throws(TaskFailure) -> any Analyzer {
        switch spec.provider {
        case .local: return LocalSceneAnalyzer(sceneThreshold: spec.sceneThreshold)
        case .gemini:
            let key = try await geminiKey(for: spec, namespace: namespace)
            let settings = configuration.gemini
            var gemini = GeminiConfiguration(
                apiKey: key, endpoint: settings.endpoint, model: spec.effectiveModel, prompt: spec.prompt,
                sceneThreshold: spec.sceneThreshold)
            let requests = spec.requestsPerMinute ?? settings.requestsPerMinute
            let tokens = spec.tokensPerMinute ?? settings.tokensPerMinute
            if requests != nil || tokens != nil {
                gemini.budget = PostgresBudget(
                    pool: pool, keyHash: gemini.keyHash, requestsPerWindow: requests, tokensPerWindow: tokens,
                    window: settings.window)
            }
            return GeminiAnalyzer(configuration: gemini)
        }
    }

    func analyze(_ task: ClaimedTask, _ job: JobRecord) async throws {
        guard let index = task.chunkIndex else {
            throw TaskFailure.permanent("InvalidTask", "analyze task without a chunk")
        }
        let rows = try await pool.query(
            "SELECT sha256, storage_key, start_seconds, duration_seconds FROM video_chunks WHERE job_id = $1 "
                + "AND chunk_index = $2",
            [job.id, index])
        guard let row = rows.first else { throw TaskFailure.retryable("ChunkMissing", "chunk \(index) is not stored") }
        let sha: String = try row.decode(at: 0)
        let key: String = try row.decode(at: 1)
        let start: Double = try row.decode(at: 2)
        let duration: Double = try row.decode(at: 3)
        let analyzer = try await analyzer(for: job.spec.analysis, namespace: job.namespace)
        let parameters = SHA256.hash(data: Data(analyzer.parameters.utf8)).map { String(format: "%02x", $0) }.joined()
        let cached = try await pool.query(
            """
            SELECT analysis FROM analysis_cache
            WHERE chunk_sha256 = $1 AND analyzer = $2 AND model = $3 AND parameters_hash = $4
            """, [sha, analyzer.name, analyzer.model, parameters])
        let analysis: ChunkAnalysis
        let fromCache: Bool
        if let hit = cached.first {
            analysis = try hit.decode(PostgresJSON.self, at: 0).decode(ChunkAnalysis.self)
            fromCache = true
        } else {
            analysis = try await analyzer.analyze(path: try await store.localFile(key), duration: duration)
            fromCache = false
        }
        try await pauseForFault("analyze")
        let relative = try PostgresJSON(encoding: analysis)
        let absolute = try PostgresJSON(encoding: analysis.shifted(by: start))
        let paid = fromCache ? AnalysisUsage() : analysis.usage
        try await fenced(task.lease) { connection in
            try await connection.query(
                """
                INSERT INTO analysis_cache
                    (chunk_sha256, analyzer, model, parameters_hash, analysis, prompt_tokens, output_tokens)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) ON CONFLICT DO NOTHING
                """,
                [
                    sha, analyzer.name, analyzer.model, parameters, relative, analysis.usage.promptTokens,
                    analysis.usage.outputTokens,
                ])
            try await connection.query(
                """
                UPDATE video_chunks
                SET analysis = $3::jsonb, analyzed_at = now(), analysis_writes = analysis_writes + 1,
                    prompt_tokens = $4, output_tokens = $5, requests = $6
                WHERE job_id = $1 AND chunk_index = $2
                """, [job.id, index, absolute, paid.promptTokens, paid.outputTokens, paid.requests])
            try await connection.query(
                """
                UPDATE processing_jobs
                SET prompt_tokens = prompt_tokens + $2, output_tokens = output_tokens + $3, requests = requests + $4
                WHERE id = $1
                """, [job.id, paid.promptTokens, paid.outputTokens, paid.requests])
        }
        await log.write(
            job: job.id, task: task.lease.taskID, level: "info", "chunk analyzed",
            fields: [
                "chunk": "\(index)", "scenes": "\(analysis.scenes.count)", "cache": fromCache ? "hit" : "miss",
                "analyzer": analyzer.name, "promptTokens": "\(paid.promptTokens)",
                "outputTokens": "\(paid.outputTokens)",
            ])
    }

    // MARK: assemble

    /// Where a job's outputs go: `spec.output.uri` (a `file://` directory inside the allowed roots), else the
    /// store under `jobs/<uid>/`.
    func outputLocation(_ job: JobRecord, base: String?) throws -> (store: any ObjectStore, prefix: String) {
        guard let uri = job.spec.output?.uri else { return (store, "jobs/\(job.uid)/") }
        guard uri.hasPrefix("file://") else {
            throw TaskFailure.permanent(
                "OutputUnsupported", "output \(uri): only file:// outputs are supported by this build")
        }
        let path = try configuration.allowedRoots.lexicalPath(fileURI: uri, base: base)
        guard configuration.allowedRoots.contains(path) else {
            throw TaskFailure.permanent("OutputNotAllowed", "output \(path) is outside the allowed roots")
        }
        return (try FileSystemStore(root: path), "")
    }

    func assemble(_ task: ClaimedTask, _ job: JobRecord, base: String?) async throws {
        guard let sourceKey = job.sourceKey else {
            throw TaskFailure.retryable("NotIngested", "the source is not stored yet")
        }
        let rows = try await pool.query(
            "SELECT chunk_index, start_seconds, analysis FROM video_chunks WHERE job_id = $1 ORDER BY chunk_index",
            [job.id])
        var chunks: [(start: Double, analysis: ChunkAnalysis)] = []
        for row in rows {
            guard let analysis: PostgresJSON = try row.decodeIfPresent(at: 2) else {
                throw TaskFailure.retryable(
                    "ChunksNotAnalyzed", "chunk \(try row.decode(Int.self, at: 0)) has no analysis")
            }
            // Stored analyses are absolute; the builder shifts relative ones, so undo the shift here.
            let start: Double = try row.decode(at: 1)
            chunks.append((start, try analysis.decode(ChunkAnalysis.self).shifted(by: -start)))
        }
        let scenes = TimelineBuilder.scenes(chunks)
        let clips = TimelineBuilder.clips(
            scenes, strategy: job.spec.timeline.strategy.rawValue, maxSeconds: Double(job.spec.timeline.maxSeconds),
            frameRate: job.frameRate)
        let timeline = Timeline(
            name: job.spec.title ?? job.name, strategy: job.spec.timeline.strategy.rawValue,
            source: TimelineSource(
                uri: store.uri(for: sourceKey), name: job.sourceName ?? "source", duration: job.sourceDuration ?? 0,
                frameRate: job.frameRate),
            clips: clips)
        let (output, prefix) = try outputLocation(job, base: base)
        let json = try await output.put(prefix + "timeline.json", data: try TimelineWriters.json(timeline))
        let otio = try await output.put(prefix + "timeline.otio", data: try TimelineWriters.otio(timeline))
        let edl = try await output.put(prefix + "timeline.edl", data: Data(TimelineWriters.edl(timeline).utf8))
        try await pauseForFault("assemble")
        try await fenced(task.lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs
                SET outputs = outputs || jsonb_build_object('timeline', $2::text, 'otio', $3::text, 'edl', $4::text),
                    updated_at = now()
                WHERE id = $1
                """, [job.id, json.uri, otio.uri, edl.uri])
        }
        await log.write(
            job: job.id, task: task.lease.taskID, level: "info", "timeline assembled",
            fields: [
                "scenes": "\(scenes.count)", "clips": "\(clips.count)",
                "seconds": String(format: "%.2f", timeline.duration),
            ])
    }

    // MARK: render

    func render(_ task: ClaimedTask, _ job: JobRecord, base: String?, progress: @Sendable (Double) -> Void) async throws
    {
        guard let sourceKey = job.sourceKey else {
            throw TaskFailure.retryable("NotIngested", "the source is not stored yet")
        }
        let (output, prefix) = try outputLocation(job, base: base)
        let timelineData: Data
        do {
            timelineData = try Data(
                contentsOf: URL(fileURLWithPath: try await output.localFile(prefix + "timeline.json")))
        } catch let error as StorageError where error.code == .notFound {
            throw TaskFailure.retryable("TimelineMissing", "the timeline is not assembled yet")
        }
        let timeline = try JSONDecoder().decode(Timeline.self, from: timelineData)
        guard !timeline.clips.isEmpty else {
            throw TaskFailure.permanent("EmptyTimeline", "the timeline has no clips to render")
        }
        let source = try await store.localFile(sourceKey)
        let scratch = try scratchPath("render-\(task.lease.taskID)-\(UUID().uuidString.prefix(8)).mp4")
        defer { unlink(scratch) }
        let result: RenderResult
        do {
            result = try await MediaEngine.render(
                timeline.clips.map { CutRange(source: source, start: $0.start, end: $0.end) }, output: scratch,
                options: RenderOptions(job.spec.render))
        } catch { throw TaskFailure.from(error) }
        progress(0.9)
        let stored = try await output.put(prefix + "render.mp4", movingFile: scratch)
        try await pauseForFault("render")
        let facts = RenderFacts(
            mode: result.mode.rawValue, frames: result.frames, seconds: result.duration,
            fallbackReason: result.fallbackReason)
        try await fenced(task.lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs SET outputs = outputs || jsonb_build_object('render', $2::text),
                    render_facts = $3::jsonb, updated_at = now()
                WHERE id = $1
                """, [job.id, stored.uri, try PostgresJSON(encoding: facts)])
        }
        var fields = [
            "bytes": "\(stored.bytes)", "duration": String(format: "%.3f", result.duration),
            "mode": result.mode.rawValue,
            "frames": "\(result.frames)",
        ]
        if let reason = result.fallbackReason { fields["fallback"] = reason }
        await log.write(
            job: job.id, task: task.lease.taskID, level: result.fallbackReason == nil ? "info" : "warning",
            "render written", fields: fields)
    }

    // MARK: helpers

    /// Runs `body` in a transaction that first locks the task row and checks the lease is still ours.
    func fenced(_ lease: Lease, _ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        try await pool.transaction { connection in
            let held = try await connection.query(
                "SELECT 1 FROM job_queue WHERE id = $1 AND lease_token = $2 AND state = 'running' FOR UPDATE",
                [lease.taskID, lease.token])
            guard !held.isEmpty else { throw TaskFailure.leaseLost }
            try await body(connection)
        }
    }

    func scratchPath(_ name: String) throws -> String {
        let directory = configuration.scratchDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return "\(directory)/\(name)"
    }

    func pauseForFault(_ stage: String) async throws {
        if let delay = configuration.faultDelays[stage] { try await Task.sleep(for: delay) }
    }
}
