import ReelAPI
import ReelYAML
import Testing

@Suite("Metadata rules")
struct MetadataTests {
    static let cases: [(metadata: String, path: String?, message: String?)] = [
        ("  namespace: media", nil, nil),
        ("  labels: {app.kubernetes.io/name: reel, a: \"\"}", nil, nil),
        ("  annotations: {example.com/anything: \"Spaces, UPPER and: colons\"}", nil, nil),
        ("  finalizers: [reel.dev/cleanup]", nil, nil),
        ("  namespace: Media", "metadata.namespace", "must be a lower-case DNS-1123 label"),
        ("  namespace: media.prod", "metadata.namespace", "must be a lower-case DNS-1123 label"),
        ("  labels: {\"-bad\": x}", "metadata.labels[-bad]", "key name part must be alphanumerics"),
        (
            "  labels: {Example.com/a: x}", "metadata.labels[Example.com/a]",
            "key prefix must be a lower-case DNS-1123 subdomain"
        ),
        ("  labels: {a/b/c: x}", "metadata.labels[a/b/c]", "key must be a qualified name: at most one '/'"),
        ("  labels: {tier: \"has space\"}", "metadata.labels[tier]", "must be alphanumerics"),
        ("  labels: {tier: 5}", "metadata.labels[tier]", "must be a string, not an integer"),
        ("  annotations: {\"/x\": y}", "metadata.annotations[/x]", "key prefix before '/' must not be empty"),
        ("  finalizers: [\"bad finalizer\"]", "metadata.finalizers[0]", "name part must be alphanumerics"),
        ("  finalizers: [a, a]", "metadata.finalizers[1]", "duplicate value"),
        ("  generation: -1", "metadata.generation", "must be at least 0"),
        ("  creationTimestamp: yesterday", "metadata.creationTimestamp", "must be an RFC 3339 date-time"),
        ("  nmae: x", "metadata.nmae", "unknown field \"nmae\" (did you mean \"name\"?)"),
    ]

    @Test(arguments: cases)
    func metadataRule(metadata: String, path: String?, message: String?) {
        let found = problems(videoJob(metadata: metadata))
        guard let path, let message else {
            #expect(found.isEmpty, "\(found)")
            return
        }
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == path)
        #expect(found.first?.message.hasPrefix(message) == true, "\(found)")
        #expect(found.first?.mark.line == 5)
    }

    @Test(arguments: [
        ("keynote", true), ("keynote-2026.part.1", true), ("a", true), ("Keynote", false), ("key_note", false),
        ("-keynote", false), ("keynote-", false), ("a..b", false), (String(repeating: "a", count: 254), false),
    ])
    func videoJobNamesAreSubdomains(name: String, valid: Bool) {
        let found = problems(videoJob(name: name))
        #expect(found.isEmpty == valid, "\(found)")
        if !valid { #expect(found.first?.path == "metadata.name") }
    }

    @Test(arguments: [
        ("analyze", true), ("a-1", true), (String(repeating: "a", count: 51), true),
        (String(repeating: "a", count: 52), false), ("analyze.gpu", false), ("Analyze", false),
    ])
    func workerPoolNamesAreShortLabels(name: String, valid: Bool) {
        let found = problems(workerPool(name: name))
        #expect(found.isEmpty == valid, "\(found)")
    }

    @Test func nameIsRequired() {
        let found = problems(
            "apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {namespace: a}\nspec: {source: {uri: "
                + "\"s3://bucket/k\"}}\n"
        )
        #expect(found.map(\.path) == ["metadata.name"])
        #expect(found.first?.code == .required)
        #expect(found.first?.mark == YAMLMark(line: 3, column: 11))
    }
}

@Suite("WorkerPool decoding and validation")
struct WorkerPoolTests {
    @Test func minimalPoolTakesDefaults() {
        guard case .workerPool(let pool)? = resource(workerPool()) else {
            Issue.record("not a WorkerPool")
            return
        }
        #expect(pool.spec == WorkerPoolSpec(stages: [.analyze]))
        #expect(pool.spec.minReplicas == 0)
        #expect(pool.spec.maxReplicas == 1)
        #expect(pool.spec.tasksPerReplica == 4)
        #expect(pool.spec.concurrency == 1)
        #expect(pool.spec.scaleDownDelaySeconds == 60)
    }

    @Test func templatePassesPodFieldsThrough() {
        let text = workerPool(
            spec: """
                  template:
                    image: registry.example.com/reel:0.1.0
                    imagePullPolicy: IfNotPresent
                    resources: {requests: {cpu: 500m, memory: 1Gi}}
                    env: [{name: LOG_LEVEL, value: debug}]
                    nodeSelector: {kubernetes.io/arch: amd64}
                """)
        guard case .workerPool(let pool)? = resource(text) else { return }
        #expect(pool.spec.template?.image == "registry.example.com/reel:0.1.0")
        #expect(pool.spec.template?.imagePullPolicy == .IfNotPresent)
        #expect(
            pool.spec.template?.resources
                == .object(["requests": .object(["cpu": .string("500m"), "memory": .string("1Gi")])]))
        #expect(pool.spec.template?.env == [.object(["name": .string("LOG_LEVEL"), "value": .string("debug")])])
        #expect(pool.spec.template?.nodeSelector == ["kubernetes.io/arch": "amd64"])
    }

    static let rules: [(spec: String, path: String, code: FieldProblem.Code)] = [
        ("  minReplicas: -1", "spec.minReplicas", .outOfRange),
        ("  maxReplicas: 101", "spec.maxReplicas", .outOfRange),
        ("  minReplicas: 3\n  maxReplicas: 2", "spec.minReplicas", .invalid),
        ("  tasksPerReplica: 0", "spec.tasksPerReplica", .outOfRange),
        ("  concurrency: 65", "spec.concurrency", .outOfRange),
        ("  scaleDownDelaySeconds: -5", "spec.scaleDownDelaySeconds", .outOfRange),
        ("  template: {imagePullPolicy: Sometimes}", "spec.template.imagePullPolicy", .notSupported),
        ("  template: {replicas: 3}", "spec.template.replicas", .unknownField),
        ("  template: {nodeSelector: {zone: 1}}", "spec.template.nodeSelector[zone]", .type),
    ]

    @Test(arguments: rules)
    func rule(spec: String, path: String, code: FieldProblem.Code) {
        let found = problems(workerPool(spec: spec))
        #expect(found.map(\.path) == [path], "\(found)")
        #expect(found.first?.code == code)
    }

    @Test func stagesAreANonEmptySetOfKnownStages() {
        let found = problems(workerPool().replacingFirst("[analyze]", with: "[analyze, paint, analyze]"))
        #expect(found.map(\.path) == ["spec.stages[1]", "spec.stages[2]"])
        #expect(found.map(\.code) == [.notSupported, .duplicate])
        #expect(found.map(\.mark) == [YAMLMark(line: 6, column: 21), YAMLMark(line: 6, column: 28)])
        #expect(problems(workerPool().replacingFirst("[analyze]", with: "[]")).map(\.code) == [.tooShort])
    }
}
