import ReelYAML

/// A pipeline stage; each is a kind of task in the queue.
public enum Stage: String, Codable, Sendable, CaseIterable {
    case ingest, split, analyze, assemble, render
}

/// How one or more stages are staffed: replica bounds and the queue depth each replica should carry.
/// Namespaced; short name `wp`.
public struct WorkerPool: Codable, Sendable, Equatable {
    public var apiVersion: String = API.version
    public var kind: String = "WorkerPool"
    public var metadata: ObjectMeta
    public var spec: WorkerPoolSpec
    public var status: WorkerPoolStatus?

    /// A WorkerPool with `metadata` and `spec`, no status yet.
    public init(metadata: ObjectMeta, spec: WorkerPoolSpec, status: WorkerPoolStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// Overrides for the pods of a pool's worker Deployment (Kubernetes only).
public struct WorkerTemplate: Codable, Sendable, Equatable {
    public var image: String?
    public var imagePullPolicy: ImagePullPolicy?
    public var serviceAccountName: String?
    /// Container resources, as in a Pod spec.
    public var resources: JSONValue?
    /// Extra environment variables, as in a Pod spec.
    public var env: [JSONValue]?
    public var nodeSelector: [String: String]?
    public var tolerations: [JSONValue]?
    public var labels: [String: String]?
    public var annotations: [String: String]?

    public init() {}
}

/// When a pod's image is pulled.
public enum ImagePullPolicy: String, Codable, Sendable, CaseIterable {
    case Always, IfNotPresent, Never
}

/// What a WorkerPool asks for.
public struct WorkerPoolSpec: Codable, Sendable, Equatable {
    public static let defaultMinReplicas = 0
    public static let defaultMaxReplicas = 1
    public static let defaultTasksPerReplica = 4
    public static let defaultConcurrency = 1
    public static let defaultScaleDownDelaySeconds = 60

    /// The stages this pool's workers run.
    public var stages: [Stage]
    public var minReplicas: Int
    public var maxReplicas: Int
    /// Queue depth one replica is meant to carry: desired = ceil(depth / tasksPerReplica), within min…max.
    public var tasksPerReplica: Int
    /// Tasks one replica runs at once.
    public var concurrency: Int
    /// How long demand must stay lower before the pool shrinks.
    public var scaleDownDelaySeconds: Int
    public var template: WorkerTemplate?

    public init(
        stages: [Stage], minReplicas: Int = defaultMinReplicas, maxReplicas: Int = defaultMaxReplicas,
        tasksPerReplica: Int = defaultTasksPerReplica, concurrency: Int = defaultConcurrency,
        scaleDownDelaySeconds: Int = defaultScaleDownDelaySeconds, template: WorkerTemplate? = nil
    ) {
        self.stages = stages
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.tasksPerReplica = tasksPerReplica
        self.concurrency = concurrency
        self.scaleDownDelaySeconds = scaleDownDelaySeconds
        self.template = template
    }
}

/// What Reel observed of a WorkerPool.
public struct WorkerPoolStatus: Codable, Sendable, Equatable {
    public var observedGeneration: Int?
    public var replicas: Int?
    public var desiredReplicas: Int?
    public var queueDepth: Int?
    public var lastScaleTime: Timestamp?
    public var conditions: [Condition]?

    public init(
        observedGeneration: Int? = nil, replicas: Int? = nil, desiredReplicas: Int? = nil, queueDepth: Int? = nil,
        lastScaleTime: Timestamp? = nil, conditions: [Condition]? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.replicas = replicas
        self.desiredReplicas = desiredReplicas
        self.queueDepth = queueDepth
        self.lastScaleTime = lastScaleTime
        self.conditions = conditions
    }
}

extension WorkerPool: ResourceKind {
    public static let names = ResourceNames(
        kind: "WorkerPool", plural: "workerpools", singular: "workerpool", shortNames: ["wp"])
    /// Pool names become `reel-worker-<pool>` Deployments and pod labels, so they are labels of at most 51.
    static let nameRule = ObjectMeta.NameRule.label(51)

    private static let stringMap = Schema.map("String map.", of: .string("Value."))

    public static let specSchema = Schema.object(
        "How the pool is staffed.", required: ["stages"],
        [
            .init(
                "stages",
                .array(
                    "Stages this pool's workers run.",
                    of: .enumeration(Stage.self, "A pipeline stage."), minItems: 1, listType: "set")),
            .init(
                "minReplicas",
                .integer(
                    "Fewest workers, even when idle.", minimum: 0, maximum: 100,
                    default: WorkerPoolSpec.defaultMinReplicas)),
            .init(
                "maxReplicas",
                .integer("Most workers.", minimum: 0, maximum: 100, default: WorkerPoolSpec.defaultMaxReplicas)),
            .init(
                "tasksPerReplica",
                .integer(
                    "Queue depth one replica should carry; desired replicas = ceil(depth / tasksPerReplica).",
                    minimum: 1, maximum: 10000, default: WorkerPoolSpec.defaultTasksPerReplica)),
            .init(
                "concurrency",
                .integer(
                    "Tasks one replica runs at once.", minimum: 1, maximum: 64,
                    default: WorkerPoolSpec.defaultConcurrency)),
            .init(
                "scaleDownDelaySeconds",
                .integer(
                    "How long demand must stay lower before the pool shrinks.", minimum: 0, maximum: 86400,
                    default: WorkerPoolSpec.defaultScaleDownDelaySeconds)),
            .init(
                "template",
                .object(
                    "Overrides for the worker pods (Kubernetes only).",
                    [
                        .init("image", .string("Container image.", minLength: 1)),
                        .init("imagePullPolicy", .enumeration(ImagePullPolicy.self, "When the image is pulled.")),
                        .init("serviceAccountName", .string("Service account of the pods.")),
                        .init("resources", Schema(.any, "Container resources, as in a Pod spec.")),
                        .init(
                            "env",
                            .array("Extra environment variables, as in a Pod spec.", of: Schema(.any, "An EnvVar."))),
                        .init("nodeSelector", stringMap),
                        .init(
                            "tolerations", .array("Tolerations, as in a Pod spec.", of: Schema(.any, "A Toleration."))),
                        .init("labels", stringMap),
                        .init("annotations", stringMap),
                    ])),
        ])

    public static let statusSchema = Schema.object(
        "What Reel observed; written by Reel only.",
        [
            .init("observedGeneration", .integer("The generation this status describes.", minimum: 0)),
            .init("replicas", .integer("Workers running.", minimum: 0)),
            .init("desiredReplicas", .integer("Workers the autoscaler wants.", minimum: 0)),
            .init("queueDepth", .integer("Ready and running tasks of the pool's stages.", minimum: 0)),
            .init("lastScaleTime", .string("When the pool last changed size.", format: "date-time")),
            .init("conditions", Condition.listSchema),
        ])

    public static let printerColumns: [PrinterColumn] = [
        PrinterColumn("Stages", "string", ".spec.stages", "Stages the pool runs."),
        PrinterColumn("Min", "integer", ".spec.minReplicas", "Fewest workers."),
        PrinterColumn("Max", "integer", ".spec.maxReplicas", "Most workers."),
        PrinterColumn("Replicas", "integer", ".status.replicas", "Workers running."),
        PrinterColumn("Desired", "integer", ".status.desiredReplicas", "Workers wanted."),
        PrinterColumn("Queue", "integer", ".status.queueDepth", "Tasks waiting or running."),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation."),
    ]

    static func checkSpec(_ spec: YAMLNode) -> [FieldProblem] {
        guard case .int(let min)? = spec["minReplicas"]?.value, case .int(let max)? = spec["maxReplicas"]?.value,
            min > max
        else { return [] }
        let mark = spec.pair("minReplicas")?.key.mark ?? spec.mark
        return [
            FieldProblem(
                .invalid, "spec.minReplicas", mark, "must not exceed spec.maxReplicas (\(min) > \(max))")
        ]
    }
}
