import Foundation
import ReelAPI
import ReelYAML
import Testing

@Suite("VideoJob decoding, defaulting and validation")
struct VideoJobTests {
    @Test func minimalJobTakesDocumentedDefaults() throws {
        guard case .videoJob(let job)? = resource(videoJob()) else {
            Issue.record("not a VideoJob")
            return
        }
        #expect(job.metadata.name == "keynote")
        #expect(job.metadata.effectiveNamespace == "default")
        // The schema's defaults and the Swift initializer's defaults are the same values.
        #expect(job.spec == VideoJobSpec(source: SourceSpec(uri: "file:///data/keynote.mp4")))
        #expect(job.spec.priority == .normal)
        #expect(job.spec.split == SplitSpec(targetSeconds: 60, maxBytes: 52_428_800))
        #expect(job.spec.analysis.provider == .local)
        #expect(job.spec.analysis.sceneThreshold == 0.1)
        #expect(job.spec.timeline == TimelineSpec(strategy: .scenes, maxSeconds: 90))
        #expect(job.spec.render.enabled)
        #expect(job.spec.retry == RetrySpec(maxAttempts: 5, backoffSeconds: 5, maxBackoffSeconds: 600))
        #expect(!job.spec.suspend)
        #expect(job.spec.ttlSecondsAfterFinished == nil)
        #expect(job.status == nil)
    }

    @Test func fullJobDecodes() throws {
        let text = videoJob(
            metadata: """
                  namespace: media
                  labels: {app.kubernetes.io/name: reel, tier: ""}
                  annotations: {reel.dev/note: "anything goes here: even spaces"}
                  finalizers: [reel.dev/cleanup]
                  uid: 6f1c2b1e-1111-2222-3333-444455556666
                  generation: 3
                  resourceVersion: "42"
                  creationTimestamp: "2026-11-29T10:00:00Z"
                """,
            spec: """
                  title: Keynote 2026
                  owner: user-123
                  priority: urgent
                  split: {targetSeconds: 30, maxBytes: 1048576}
                  analysis:
                    provider: gemini
                    model: gemini-2.5-pro
                    prompt: Describe it.
                    apiKeySecretRef: {name: gemini, key: apiKey}
                    sceneThreshold: 0.45
                  timeline: {strategy: highlights, maxSeconds: 120}
                  render: {enabled: false}
                  output: {uri: "s3://reel-out/keynote/"}
                  retry: {maxAttempts: 3, backoffSeconds: 2, maxBackoffSeconds: 60}
                  suspend: true
                  ttlSecondsAfterFinished: 0
                """)
        guard case .videoJob(let job)? = resource(text) else { return }
        #expect(job.metadata.namespace == "media")
        #expect(job.metadata.labels == ["app.kubernetes.io/name": "reel", "tier": ""])
        #expect(job.metadata.finalizers == [API.cleanupFinalizer])
        #expect(job.metadata.generation == 3)
        #expect(job.metadata.creationTimestamp == Timestamp(rfc3339: "2026-11-29T10:00:00Z"))
        #expect(job.spec.priority == .urgent)
        #expect(job.spec.analysis.effectiveModel == "gemini-2.5-pro")
        #expect(job.spec.analysis.apiKeySecretRef == SecretKeyRef(name: "gemini", key: "apiKey"))
        #expect(job.spec.timeline.strategy == .highlights)
        #expect(job.spec.output == OutputSpec(uri: "s3://reel-out/keynote/"))
        #expect(job.spec.retry.maxAttempts == 3)
        #expect(job.spec.suspend)
        #expect(job.spec.ttlSecondsAfterFinished == 0)
    }

    @Test func statusRoundTripsFromAGetOutput() throws {
        let text =
            videoJob(spec: "") + """

                status:
                  observedGeneration: 3
                  phase: Analyzing
                  progress: 42
                  chunks: {total: 12, stored: 12, analyzed: 5, failed: 0}
                  conditions:
                  - {type: Ingested, status: "True", reason: SourceStored, message: stored,
                     lastTransitionTime: "2026-11-29T10:00:00Z", observedGeneration: 3}
                  - {type: Succeeded, status: Unknown, reason: Analyzing, message: "5 of 12 chunks analyzed",
                     lastTransitionTime: "2026-11-29T10:01:00Z", observedGeneration: 3}
                  outputs: {timeline: "file:///out/timeline.json"}
                  startTime: "2026-11-29T10:00:00Z"
                """
        guard case .videoJob(let job)? = resource(text) else { return }
        #expect(job.status?.phase == .Analyzing)
        #expect(job.status?.chunks == ChunkCounts(total: 12, stored: 12, analyzed: 5, failed: 0))
        #expect(job.status?.conditions?.map(\.type) == ["Ingested", "Succeeded"])
        #expect(job.status?.conditions?.last?.status == .unknown)
    }

    /// Each bad value, alone: the field path, the code, and the line and column of the offending key or value.
    static let rules: [(spec: String, path: String, code: FieldProblem.Code, line: Int, column: Int)] = [
        ("  priority: hgh", "spec.priority", .notSupported, 9, 13),
        ("  title: 12", "spec.title", .type, 9, 10),
        ("  owner: [a]", "spec.owner", .type, 9, 10),
        ("  split: {targetSeconds: 0}", "spec.split.targetSeconds", .outOfRange, 9, 26),
        ("  split: {targetSeconds: 3601}", "spec.split.targetSeconds", .outOfRange, 9, 26),
        ("  split: {targetSeconds: 1.5}", "spec.split.targetSeconds", .type, 9, 26),
        ("  split: {maxBytes: 1000}", "spec.split.maxBytes", .outOfRange, 9, 21),
        ("  split: {targetSecond: 10}", "spec.split.targetSecond", .unknownField, 9, 11),
        ("  split: 60", "spec.split", .type, 9, 10),
        ("  analysis: {provider: openai}", "spec.analysis.provider", .notSupported, 9, 24),
        ("  analysis: {sceneThreshold: 1.5}", "spec.analysis.sceneThreshold", .outOfRange, 9, 30),
        ("  analysis: {sceneThreshold: -0.1}", "spec.analysis.sceneThreshold", .outOfRange, 9, 30),
        ("  analysis: {sceneThreshold: .nan}", "spec.analysis.sceneThreshold", .type, 9, 30),
        ("  analysis: {model: gemini-2.5-flash}", "spec.analysis.model", .forbidden, 9, 14),
        ("  analysis: {prompt: hi}", "spec.analysis.prompt", .forbidden, 9, 14),
        ("  analysis: {provider: gemini, model: \"Gemini Pro\"}", "spec.analysis.model", .pattern, 9, 39),
        (
            "  analysis: {provider: gemini, apiKeySecretRef: {name: gemini}}", "spec.analysis.apiKeySecretRef.key",
            .required, 9, 49
        ),
        (
            "  analysis: {provider: gemini, apiKeySecretRef: {name: Gemini_Key, key: k}}",
            "spec.analysis.apiKeySecretRef.name", .pattern, 9, 56
        ),
        ("  timeline: {strategy: best}", "spec.timeline.strategy", .notSupported, 9, 24),
        ("  timeline: {maxSeconds: 0}", "spec.timeline.maxSeconds", .outOfRange, 9, 26),
        ("  render: {enabled: \"yes\"}", "spec.render.enabled", .type, 9, 21),
        ("  render: {enabled: yes}", "spec.render.enabled", .type, 9, 21),
        ("  output: {uri: \"http://x/y\"}", "spec.output.uri", .pattern, 9, 17),
        ("  output: {}", "spec.output.uri", .required, 9, 11),
        ("  output: {uri: \"file://out\"}", "spec.output.uri", .invalid, 9, 17),
        ("  retry: {maxAttempts: 0}", "spec.retry.maxAttempts", .outOfRange, 9, 24),
        ("  retry: {maxAttempts: 101}", "spec.retry.maxAttempts", .outOfRange, 9, 24),
        ("  retry: {backoffSeconds: 0}", "spec.retry.backoffSeconds", .outOfRange, 9, 27),
        ("  retry: {backoffSeconds: 30, maxBackoffSeconds: 10}", "spec.retry.backoffSeconds", .invalid, 9, 11),
        ("  suspend: \"false\"", "spec.suspend", .type, 9, 12),
        ("  ttlSecondsAfterFinished: -1", "spec.ttlSecondsAfterFinished", .outOfRange, 9, 28),
        ("  color: red", "spec.color", .unknownField, 9, 3),
    ]

    @Test(arguments: rules)
    func rule(spec: String, path: String, code: FieldProblem.Code, line: Int, column: Int) {
        let found = problems(videoJob(spec: spec))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == path)
        #expect(found.first?.code == code)
        #expect(found.first?.mark == YAMLMark(line: line, column: column), "\(found)")
    }

    static let sourceURIs: [(uri: String, valid: Bool)] = [
        ("file:///data/a.mp4", true), ("file://localhost/data/a.mp4", true), ("file://./a.mp4", true),
        ("file://../videos/a.mp4", true), ("s3://reel-sources/a/b.mp4", true), ("https://example.com/a.mp4", true),
        ("http://127.0.0.1:8080/a.mp4?token=x", true), ("upload://abc-123_X", true),
        ("ftp://example.com/a.mp4", false), ("file://a.mp4", false), ("file:///", false), ("file:///data/", false),
        ("file:///data/my video.mp4", false), ("s3://ab/a.mp4", false), ("s3://Bucket/a.mp4", false),
        ("s3://bucket", false), ("s3://bucket/", false), ("https:///a.mp4", false),
        ("https://user:secret@example.com/a.mp4", false), ("upload://a/b", false), ("/data/a.mp4", false),
        ("", false),
    ]

    @Test(arguments: sourceURIs)
    func sourceURI(uri: String, valid: Bool) {
        let found = problems(videoJob().replacingFirst("file:///data/keynote.mp4", with: uri))
        #expect(found.isEmpty == valid, "\(uri): \(found)")
        if !valid { #expect(found.allSatisfy { $0.path == "spec.source.uri" }, "\(found)") }
    }

    @Test func sha256MustBeLowerHex() {
        let good = String(repeating: "a1", count: 32)
        #expect(
            problems(videoJob(spec: "").replacingFirst("keynote.mp4", with: "keynote.mp4\n    sha256: \(good)")).isEmpty
        )
        let bad = problems(
            videoJob().replacingFirst("keynote.mp4", with: "keynote.mp4\n    sha256: \(good.uppercased())"))
        #expect(bad.map(\.path) == ["spec.source.sha256"])
        #expect(bad.first?.message == "must be 64 lower-case hex digits")
    }

    @Test func missingSpecAndSourceAreRequired() {
        let noSpec = problems("apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {name: a}\n")
        #expect(noSpec.map(\.path) == ["spec"])
        #expect(noSpec.first?.code == .required)
        #expect(noSpec.first?.mark == YAMLMark(line: 1, column: 1))
        let noSource = problems(
            "apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {name: a}\nspec:\n  title: t\n")
        #expect(noSource.map(\.path) == ["spec.source"])
        #expect(noSource.first?.mark == YAMLMark(line: 5, column: 3))
    }

    @Test func everyProblemIsReportedNotOnlyTheFirst() {
        let found = problems(
            """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata:
              name: Bad_Name
              namespace: Media
              labels: {"bad key!": v}
              extra: 1
            spec:
              priority: hgh
              source: {uri: "ftp://x", sha256: abc}
              split: {targetSeconds: 0, maxBytes: "50", chunky: true}
              analysis: {provider: local, model: m}
              retry: {backoffSeconds: 700}
            """)
        #expect(
            found.map(\.path) == [
                "metadata.name", "metadata.namespace", "metadata.labels[bad key!]", "metadata.extra", "spec.priority",
                "spec.source.uri", "spec.source.sha256", "spec.split.targetSeconds", "spec.split.maxBytes",
                "spec.split.chunky", "spec.analysis.model", "spec.retry.backoffSeconds",
            ])
        #expect(found.map(\.mark.line) == [4, 5, 6, 7, 9, 10, 10, 11, 11, 11, 12, 13])
    }

    @Test func unknownFieldsSuggestTheIntendedName() {
        let found = problems(videoJob(spec: "  split: {targetSecnds: 10}\n  prioirty: high"))
        #expect(
            found.map(\.message) == [
                "unknown field \"targetSecnds\" (did you mean \"targetSeconds\"?)",
                "unknown field \"prioirty\" (did you mean \"priority\"?)",
            ])
    }

    @Test func nullMeansAbsent() throws {
        guard case .videoJob(let job)? = resource(videoJob(spec: "  title:\n  split:\n  priority: ~")) else { return }
        #expect(job.spec.title == nil)
        #expect(job.spec.split == SplitSpec())
        #expect(job.spec.priority == .normal)
    }

    @Test func statusIsValidatedToo() {
        let found = problems(
            videoJob()
                + "\nstatus:\n  phase: Done\n  progress: 101\n  conditions:\n"
                + "  - {type: Ready, status: Yes, reason: all good, message: m, lastTransitionTime: yesterday}\n"
                + "  - {type: Ready, status: \"True\", reason: Ok, message: m,"
                + " lastTransitionTime: \"2026-11-29T10:00:00Z\"}\n"
        )
        #expect(
            found.map(\.path) == [
                "status.phase", "status.progress", "status.conditions[0].status", "status.conditions[0].reason",
                "status.conditions[0].lastTransitionTime", "status.conditions[1]",
            ])
        #expect(found.last?.code == .duplicate)
    }
}

extension FieldProblem.Code: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

@Suite struct GeminiBudgetFieldTests {
    @Test func budgetsApplyOnlyToGemini() {
        let text = """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata: {name: a}
            spec:
              source: {uri: "file:///a.mp4"}
              analysis: {provider: local, requestsPerMinute: 10}
            """
        let report = ManifestReport.read(text)
        #expect(
            report.problems.map(\.description) == [
                "6:31: spec.analysis.requestsPerMinute: applies only when provider is gemini"
            ])
        let gemini = ManifestReport.read(text.replacingOccurrences(of: "provider: local", with: "provider: gemini"))
        #expect(gemini.problems.isEmpty)
        guard case .videoJob(let job)? = gemini.resources.first?.resource else { Issue.record("no job"); return }
        #expect(job.spec.analysis.requestsPerMinute == 10)
    }
}

@Suite struct SourceCredentialsFieldTests {
    @Test func aCredentialsSecretAppliesOnlyToS3Sources() {
        let text = """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata: {name: a}
            spec:
              source: {uri: "file:///a.mp4", credentialsSecretRef: {name: source-keys}}
            """
        let report = ManifestReport.read(text)
        #expect(
            report.problems.map(\.description) == [
                "5:34: spec.source.credentialsSecretRef: applies only to s3:// sources"
            ])
        let s3 = ManifestReport.read(text.replacingOccurrences(of: "file:///a.mp4", with: "s3://media/a.mp4"))
        #expect(s3.problems.isEmpty)
        guard case .videoJob(let job)? = s3.resources.first?.resource else { Issue.record("no job"); return }
        #expect(job.spec.source.credentialsSecretRef == SecretRef(name: "source-keys"))
        let unnamed = ManifestReport.read(text.replacingOccurrences(of: "{name: source-keys}", with: "{}"))
        #expect(unnamed.problems.map(\.description).contains { $0.contains("spec.source.credentialsSecretRef.name") })
    }
}
