import ReelYAML

extension VideoJob: ResourceKind {
    public static let names = ResourceNames(
        kind: "VideoJob", plural: "videojobs", singular: "videojob", shortNames: ["vj"])
    static let nameRule = ObjectMeta.NameRule.subdomain

    public static let specSchema = Schema.object(
        "What to process and how.", required: ["source"],
        [
            .init("title", .string("Free text shown to people.", maxLength: 1024)),
            .init("owner", .string("Who asked for the job; used for isolation and quotas.", maxLength: 253)),
            .init("priority", .enumeration(Priority.self, "Queue priority.", default: .normal)),
            .init(
                "source",
                .object(
                    "The video to process.", required: ["uri"],
                    [
                        .init(
                            "uri",
                            .string(
                                "file:///path (or file://./path relative to the declaring file), "
                                    + "s3://bucket/key, http(s)://…, or upload://<id>.",
                                pattern: Patterns.sourceURI,
                                hint: "must be a URI with scheme file, s3, http, https or upload", maxLength: 4096)),
                        .init(
                            "sha256",
                            .string(
                                "Lower-case hex SHA-256 the source must have.", pattern: Patterns.sha256,
                                hint: "must be 64 lower-case hex digits")),
                        .init(
                            "credentialsSecretRef",
                            .object(
                                "s3:// sources in Kubernetes: a Secret in the job's namespace with AWS_ACCESS_KEY_ID "
                                    + "and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) to read the source with.",
                                required: ["name"],
                                [
                                    .init(
                                        "name",
                                        .string(
                                            "Secret name.", pattern: Patterns.dns1123Subdomain,
                                            hint: "must be a DNS-1123 subdomain", maxLength: 253))
                                ])),
                    ])),
            .init(
                "split",
                .object(
                    "How the source is cut into keyframe-aligned chunks.", defaultsToEmpty: true,
                    [
                        .init(
                            "targetSeconds",
                            .integer(
                                "Chunk length to aim for; chunks start at the first keyframe at or after each "
                                    + "boundary.",
                                minimum: 1, maximum: 3600, default: SplitSpec.defaultTargetSeconds)),
                        .init(
                            "maxBytes",
                            .integer(
                                "Largest chunk in bytes; a chunk is cut at an earlier keyframe rather than grow "
                                    + "past it.",
                                minimum: 1_048_576, maximum: 2_147_483_648, default: SplitSpec.defaultMaxBytes)),
                    ])),
            .init(
                "analysis",
                .object(
                    "How each chunk is analyzed.", defaultsToEmpty: true,
                    [
                        .init(
                            "provider",
                            .enumeration(
                                AnalysisProvider.self, "local (offline scene analysis) or gemini (Google Gemini).",
                                default: AnalysisSpec.defaultProvider)),
                        .init(
                            "model",
                            .string(
                                "Gemini model (gemini only); gemini-2.5-flash when absent.",
                                pattern: "^[a-z0-9][-a-z0-9.]*$",
                                hint: "must be a Gemini model name such as gemini-2.5-flash",
                                maxLength: 128)),
                        .init("prompt", .string("Gemini prompt (gemini only); a default exists.", maxLength: 32768)),
                        .init(
                            "apiKeySecretRef",
                            .object(
                                "The Secret key holding the Gemini API key (Kubernetes; locally GEMINI_API_KEY).",
                                required: ["name", "key"],
                                [
                                    .init(
                                        "name",
                                        .string(
                                            "Secret name.", pattern: Patterns.dns1123Subdomain,
                                            hint: "must be a DNS-1123 subdomain", maxLength: 253)),
                                    .init(
                                        "key",
                                        .string(
                                            "Key in the Secret.", pattern: "^[-._a-zA-Z0-9]+$",
                                            hint: "must be letters, digits, '-', '_' or '.'", maxLength: 253)),
                                ])),
                        .init(
                            "requestsPerMinute",
                            .integer(
                                "Gemini requests per minute allowed for this job's API key, shared by every "
                                    + "worker (gemini only).",
                                minimum: 1, maximum: 100000)),
                        .init(
                            "tokensPerMinute",
                            .integer(
                                "Gemini tokens per minute allowed for this job's API key, shared by every "
                                    + "worker (gemini only).",
                                minimum: 1, maximum: 100000000)),
                        .init(
                            "sceneThreshold",
                            .number(
                                "Scene-change threshold of the local scene detector, 0 to 1: the scdet score "
                                    + "(0-100) a cut must reach, divided by 100.",
                                minimum: 0, maximum: 1,
                                default: AnalysisSpec.defaultSceneThreshold)),
                    ])),
            .init(
                "timeline",
                .object(
                    "How scenes become a timeline.", defaultsToEmpty: true,
                    [
                        .init(
                            "strategy",
                            .enumeration(
                                TimelineStrategy.self,
                                "scenes (every scene) or highlights (best scenes up to maxSeconds).",
                                default: .scenes)),
                        .init(
                            "maxSeconds",
                            .integer(
                                "Total length of a highlights timeline.", minimum: 1, maximum: 86400,
                                default: TimelineSpec.defaultMaxSeconds)),
                    ])),
            .init(
                "render",
                .object(
                    "Whether and how an output video is rendered.", defaultsToEmpty: true,
                    [
                        .init("enabled", .boolean("Render the timeline into a video.", default: true)),
                        .init(
                            "mode",
                            .enumeration(
                                RenderSpec.Mode.self,
                                "exact (every frame re-encoded, frame-accurate), smart (frame-accurate, re-encoding "
                                    + "only around cuts) or keyframe (stream copy from the keyframe before each cut: "
                                    + "fast, approximate).", default: .exact)),
                        .init(
                            "codec",
                            .enumeration(
                                RenderSpec.Codec.self, "Video codec of an exact or smart render (8-bit 4:2:0).",
                                default: .h264)),
                        .init(
                            "crf",
                            .integer(
                                "Constant rate factor of the encoder, 0-51 (lower is better).", minimum: 0,
                                maximum: 51, default: RenderSpec.defaultCRF)),
                        .init(
                            "preset",
                            .enumeration(
                                RenderSpec.presets, "Encoder speed preset (x264/x265).",
                                default: RenderSpec.defaultPreset)),
                    ])),
            .init(
                "output",
                .object(
                    "Where outputs are written; by default the store, under jobs/<uid>/.", required: ["uri"],
                    [
                        .init(
                            "uri",
                            .string(
                                "file:///dir/ or s3://bucket/prefix/.", pattern: Patterns.outputURI,
                                hint: "must be a URI with scheme file or s3", maxLength: 4096))
                    ])),
            .init(
                "retry",
                .object(
                    "How failed tasks are retried.", defaultsToEmpty: true,
                    [
                        .init(
                            "maxAttempts",
                            .integer(
                                "Attempts per task before the job fails.", minimum: 1, maximum: 100,
                                default: RetrySpec.defaultMaxAttempts)),
                        .init(
                            "backoffSeconds",
                            .integer(
                                "First retry delay; doubles per attempt.", minimum: 1, maximum: 3600,
                                default: RetrySpec.defaultBackoffSeconds)),
                        .init(
                            "maxBackoffSeconds",
                            .integer(
                                "Longest retry delay.", minimum: 1, maximum: 86400,
                                default: RetrySpec.defaultMaxBackoffSeconds)),
                    ])),
            .init("suspend", .boolean("Run no new tasks while true; progress is kept.", default: false)),
            .init(
                "cancel",
                .boolean(
                    "Stop the job for good: its tasks are cancelled and it ends Failed with the reason Cancelled.")),
            .init(
                "ttlSecondsAfterFinished",
                .integer("Seconds a finished job is kept before it is cleaned up; forever when absent.", minimum: 0)),
        ])

    public static let statusSchema = Schema.object(
        "What Reel observed; written by Reel only.",
        [
            .init("observedGeneration", .integer("The generation this status describes.", minimum: 0)),
            .init("phase", .enumeration(VideoJobPhase.self, "Where the job is in the pipeline.")),
            .init("progress", .integer("Percent done, monotonic within a generation.", minimum: 0, maximum: 100)),
            .init(
                "chunks",
                .object(
                    "Chunk counts.",
                    [
                        .init("total", .integer("Chunks the source was split into.", minimum: 0)),
                        .init("stored", .integer("Chunks in storage.", minimum: 0)),
                        .init("analyzed", .integer("Chunks analyzed.", minimum: 0)),
                        .init("failed", .integer("Chunks whose analysis failed for good.", minimum: 0)),
                    ])),
            .init("conditions", Condition.listSchema),
            .init(
                "outputs",
                .object(
                    "URIs of the outputs.",
                    [
                        .init("timeline", .string("Timeline JSON.")),
                        .init("otio", .string("OpenTimelineIO timeline.")),
                        .init("edl", .string("CMX 3600 EDL.")),
                        .init("render", .string("Rendered video.")),
                    ])),
            .init(
                "usage",
                .object(
                    "What the analysis cost (Gemini; zero for the local analyzer).",
                    [
                        .init("promptTokens", .integer("Prompt tokens billed.", minimum: 0)),
                        .init("outputTokens", .integer("Output tokens billed.", minimum: 0)),
                        .init("requests", .integer("generateContent requests made.", minimum: 0)),
                    ])),
            .init("startTime", .string("When processing of this generation started.", format: "date-time")),
            .init("completionTime", .string("When the job finished.", format: "date-time")),
        ])

    public static let printerColumns: [PrinterColumn] = [
        PrinterColumn("Phase", "string", ".status.phase", "Where the job is in the pipeline."),
        PrinterColumn("Progress", "integer", ".status.progress", "Percent done."),
        PrinterColumn("Chunks", "integer", ".status.chunks.total", "Chunks the source was split into."),
        PrinterColumn("Analyzed", "integer", ".status.chunks.analyzed", "Chunks analyzed.", priority: 1),
        PrinterColumn("Provider", "string", ".spec.analysis.provider", "Analysis provider.", priority: 1),
        PrinterColumn("Owner", "string", ".spec.owner", "Who asked for the job.", priority: 1),
        PrinterColumn(
            "Message", "string", ".status.conditions[?(@.type==\"Succeeded\")].message", "Summary condition message.",
            priority: 1),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation."),
    ]

    /// Cross-field rules the schema cannot say.
    static func checkSpec(_ spec: YAMLNode) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if let uri = spec["source"]?["uri"], let text = uri.string {
            problems += URIRules.sourceProblems(text).map { FieldProblem(.invalid, "spec.source.uri", uri.mark, $0) }
        }
        if let pair = spec["source"]?.pair("credentialsSecretRef"), pair.value.value != .null,
            spec["source"]?["uri"]?.string?.hasPrefix("s3://") != true
        {
            problems.append(
                FieldProblem(
                    .forbidden, "spec.source.credentialsSecretRef", pair.key.mark, "applies only to s3:// sources"))
        }
        if let uri = spec["output"]?["uri"], let text = uri.string {
            problems += URIRules.outputProblems(text).map { FieldProblem(.invalid, "spec.output.uri", uri.mark, $0) }
        }
        if let analysis = spec["analysis"], analysis["provider"]?.string != AnalysisProvider.gemini.rawValue {
            for field in ["model", "prompt", "apiKeySecretRef", "requestsPerMinute", "tokensPerMinute"] {
                guard let pair = analysis.pair(field), pair.value.value != .null else { continue }
                problems.append(
                    FieldProblem(
                        .forbidden, "spec.analysis.\(field)", pair.key.mark, "applies only when provider is gemini"))
            }
        }
        if let retry = spec["retry"], case .int(let base)? = retry["backoffSeconds"]?.value,
            case .int(let max)? = retry["maxBackoffSeconds"]?.value, base > max
        {
            let mark = retry.pair("backoffSeconds")?.key.mark ?? retry.mark
            problems.append(
                FieldProblem(
                    .invalid, "spec.retry.backoffSeconds", mark,
                    "must not exceed spec.retry.maxBackoffSeconds (\(base) > \(max))"))
        }
        return problems
    }
}
