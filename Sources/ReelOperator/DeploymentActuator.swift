import FoundationEssentials
import Logging
import ReelAPI
import ReelKube
import ReelStore
import Synchronization
import ReelSupport

extension KubeResource {
    /// `apps/v1` Deployments.
    public static let deployments = KubeResource(group: "apps", version: "v1", plural: "deployments")
}

/// The operator's side of the worker pod template, merged with each pool's `spec.template`.
public struct KubeWorkerConfiguration: Sendable {
    /// Worker image (a pool's `template.image` wins).
    public var image: String
    public var imagePullPolicy: String
    /// Service account of the pods (a pool's `template.serviceAccountName` wins); it needs `get` on the Secrets
    /// VideoJobs reference for their Gemini key.
    public var serviceAccountName: String?
    /// The Secret with the keys `databaseURL` and `storage`, in every namespace that has pools.
    public var secretName: String
    /// Where default pools' Deployments go (pools no WorkerPool declares).
    public var namespace: String
    /// Container resources when a pool names none.
    public var resources: JSONValue?
    /// Directories `file://` URIs may name (mounted by the pod template's volumes).
    public var allowedRoots: [String]
    public var leaseSeconds: Double
    public var gracePeriodSeconds: Int
    /// Further `reel worker` arguments (Gemini budgets).
    public var extraArguments: [String]
    /// A PersistentVolumeClaim the workers mount at `dataPath` (shared `file://` storage and media), if any.
    public var dataClaim: String?
    public var dataPath: String

    public init(
        image: String, imagePullPolicy: String = "IfNotPresent", serviceAccountName: String? = nil,
        secretName: String = "reel-worker", namespace: String, resources: JSONValue? = nil, allowedRoots: [String] = [],
        leaseSeconds: Double = 30, gracePeriodSeconds: Int = 30, extraArguments: [String] = [],
        dataClaim: String? = nil,
        dataPath: String = "/data"
    ) {
        self.dataClaim = dataClaim
        self.dataPath = dataPath
        self.image = image
        self.imagePullPolicy = imagePullPolicy
        self.serviceAccountName = serviceAccountName
        self.secretName = secretName
        self.namespace = namespace
        self.resources = resources
        self.allowedRoots = allowedRoots
        self.leaseSeconds = leaseSeconds
        self.gracePeriodSeconds = gracePeriodSeconds
        self.extraArguments = extraArguments
    }
}

/// Runs each pool as a Deployment `reel-worker-<pool>`: created (or updated by server-side apply when its pod
/// template changes) with an ownerReference to its WorkerPool, so deleting the pool deletes the workers; sized
/// only through the `scale` subresource. Deployments outlive the operator: a new leader adopts them as they are.
public final class DeploymentActuator: WorkerActuator {
    public let client: KubeClient
    public let configuration: KubeWorkerConfiguration
    let logger: Logger
    public let exited = WakeSignal()
    static let fieldManager = "reel-operator"

    struct Known {
        var namespace: String
        var templateHash: Int
        var replicas: Int
        var lastScale: Date?
        /// When the Deployment was last read: read again every `refreshInterval`, so a hand-made change to its
        /// replicas (or its deletion) is noticed and undone.
        var checkedAt: ContinuousClock.Instant = .now
    }

    private let known = Mutex<[String: Known]>([:])
    /// Whether the Deployments of earlier default pools were looked for (once per operator).
    private let swept = Mutex(false)
    let refreshInterval: Duration = .seconds(30)

    public init(client: KubeClient, configuration: KubeWorkerConfiguration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    public var workersOutliveOperator: Bool { true }
    public func stopAll() async {}
    public func inCrashBackoff(_ pool: String) -> Bool { false }
    public func replicas(_ pool: String) -> Int { known.withLock { $0[pool]?.replicas ?? 0 } }
    public func lastScale(_ pool: String) -> Date? { known.withLock { $0[pool]?.lastScale } }

    /// `reel-worker-<pool>`.
    public static func deploymentName(_ pool: String) -> String { "reel-worker-\(pool)" }

    public func scale(_ pool: PoolSizing, to replicas: Int, group: inout DiscardingTaskGroup) async throws {
        let namespace = pool.namespace ?? configuration.namespace
        let name = Self.deploymentName(pool.name)
        let deployment = self.deployment(pool, namespace: namespace)
        let hash = deployment.hashValue
        var entry = known.withLock { $0[pool.name] }
        if let current = entry, ContinuousClock.now - current.checkedAt > refreshInterval { entry = nil }
        if entry == nil || entry?.namespace != namespace {
            do {
                let current = try await client.get(.deployments, namespace: namespace, name: name)
                let summary = try JSONDecoder().decode(DeploymentSummary.self, from: current)
                let previous = known.withLock { $0[pool.name] }
                entry = Known(
                    namespace: namespace,
                    templateHash: previous.flatMap { $0.namespace == namespace ? $0.templateHash : nil } ?? 0,
                    replicas: summary.spec?.replicas ?? 0, lastScale: previous?.lastScale)
            } catch let error as KubeError where error.isNotFound {
                var created = deployment
                created["spec"] = created["spec"].map { spec -> JSONValue in
                    guard case .object(var fields) = spec else { return spec }
                    fields["replicas"] = .int(replicas)
                    return .object(fields)
                }
                _ = try await client.create(
                    .deployments, namespace: namespace, try JSONEncoder().encode(JSONValue.object(created)))
                logger.info("created Deployment \(namespace)/\(name) with \(replicas) replica(s)")
                known.withLock {
                    $0[pool.name] = Known(
                        namespace: namespace, templateHash: hash, replicas: replicas, lastScale: Date())
                }
                return
            }
        }
        guard var entry else { return }
        do {
            if entry.templateHash != hash {
                // Everything but replicas, which belong to the scale subresource.
                _ = try await client.apply(
                    .deployments, namespace: namespace, name: name, fieldManager: Self.fieldManager,
                    JSONValue.object(deployment))
                entry.templateHash = hash
                known.withLock { $0[pool.name] = entry }
            }
            guard entry.replicas != replicas else { return }
            _ = try await client.mergePatch(
                .deployments, namespace: namespace, name: name, subresource: "scale",
                Data(#"{"spec":{"replicas":\#(replicas)}}"#.utf8))
        } catch let error as KubeError where error.isNotFound {
            // Deleted behind our back (or with its pool): forget it, and create it again on the next pass.
            known.withLock { _ = $0.removeValue(forKey: pool.name) }
            throw error
        }
        logger.info("scaled Deployment \(namespace)/\(name) from \(entry.replicas) to \(replicas)")
        entry.replicas = replicas
        entry.lastScale = Date()
        known.withLock { $0[pool.name] = entry }
    }

    /// Deletes the Deployments of default pools that are no longer needed (their stage now has a declared pool).
    /// Declared pools' Deployments go with their WorkerPool (ownerReference, garbage collection). The first pass
    /// also finds those an earlier operator left.
    public func retire(except pools: [PoolSizing], group: inout DiscardingTaskGroup) async throws {
        let current = Set(pools.map(\.name))
        var stale = known.withLock { all in
            all.filter { !current.contains($0.key) && $0.value.namespace == configuration.namespace }.map(\.key)
        }
        if !swept.withLock({ $0 }) {
            let list = try await client.list(
                .deployments, namespace: configuration.namespace,
                labelSelector: "app.kubernetes.io/managed-by=reel-operator")
            for item in list.items {
                let metadata = try JSONDecoder().decode(DeploymentSummary.self, from: item).metadata
                guard metadata.ownerReferences?.isEmpty ?? true, let pool = metadata.labels?["reel.dev/pool"],
                    !current.contains(pool)
                else { continue }
                if !stale.contains(pool) { stale.append(pool) }
            }
            swept.withLock { $0 = true }
        }
        for pool in stale.sorted() {
            do {
                try await client.delete(
                    .deployments, namespace: configuration.namespace, name: Self.deploymentName(pool))
                logger.info(
                    "deleted Deployment \(configuration.namespace)/\(Self.deploymentName(pool)): pool \(pool) is gone")
            } catch let error as KubeError where error.isNotFound {}
            known.withLock { _ = $0.removeValue(forKey: pool) }
        }
    }

    /// The Deployment for `pool`, without replicas.
    func deployment(_ pool: PoolSizing, namespace: String) -> [String: JSONValue] {
        let template = pool.template
        let selector: [String: JSONValue] = [
            "app.kubernetes.io/name": "reel", "app.kubernetes.io/component": "worker",
            "reel.dev/pool": .string(pool.name),
        ]
        var podLabels = selector
        for (key, value) in template?.labels ?? [:] where podLabels[key] == nil { podLabels[key] = .string(value) }
        var metadata: [String: JSONValue] = [
            "name": .string(Self.deploymentName(pool.name)), "namespace": .string(namespace),
            "labels": .object(selector.merging(["app.kubernetes.io/managed-by": "reel-operator"]) { a, _ in a }),
        ]
        if let uid = pool.uid {
            metadata["ownerReferences"] = [
                [
                    "apiVersion": .string(API.version), "kind": .string(WorkerPool.names.kind),
                    "name": .string(pool.name),
                    "uid": .string(uid), "controller": true, "blockOwnerDeletion": true,
                ]
            ]
        }
        let secret = { (key: String) -> JSONValue in
            ["secretKeyRef": ["name": .string(self.configuration.secretName), "key": .string(key)]]
        }
        var env: [JSONValue] = [
            ["name": "REEL_DATABASE_URL", "valueFrom": secret("databaseURL")],
            ["name": "REEL_STORAGE", "valueFrom": secret("storage")],
            ["name": "TMPDIR", "value": "/scratch"],
        ]
        // S3 credentials, when the Secret has them (a role on the service account needs none).
        for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            env.append([
                "name": .string(key),
                "valueFrom": [
                    "secretKeyRef": ["name": .string(configuration.secretName), "key": .string(key), "optional": true]
                ],
            ])
        }
        env += template?.env ?? []
        let arguments: [String] =
            [
                "worker", "--stages", pool.stages.map(\.rawValue).joined(separator: ","), "--concurrency",
                "\(pool.concurrency)",
                "--pool", pool.name, "--lease-seconds", "\(configuration.leaseSeconds)",
                "--drain-seconds", "\(max(1, configuration.gracePeriodSeconds - 5))", "--scratch", "/scratch",
                "--kube-secrets",
            ]
            + configuration.allowedRoots.flatMap { ["--allow-root", $0] } + configuration.extraArguments
        var mounts: [JSONValue] = [["name": "scratch", "mountPath": "/scratch"]]
        var volumes: [JSONValue] = [["name": "scratch", "emptyDir": [:]]]
        if let claim = configuration.dataClaim {
            mounts.append(["name": "data", "mountPath": .string(configuration.dataPath)])
            volumes.append(["name": "data", "persistentVolumeClaim": ["claimName": .string(claim)]])
        }
        var container: [String: JSONValue] = [
            "name": "worker", "image": .string(template?.image ?? configuration.image),
            "imagePullPolicy": .string(template?.imagePullPolicy?.rawValue ?? configuration.imagePullPolicy),
            "args": .array(arguments.map(JSONValue.string)), "env": .array(env),
            "volumeMounts": .array(mounts),
            "securityContext": [
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": ["drop": ["ALL"]],
            ],
        ]
        if let resources = template?.resources ?? configuration.resources { container["resources"] = resources }
        var podSpec: [String: JSONValue] = [
            "containers": [.object(container)],
            "volumes": .array(volumes),
            "terminationGracePeriodSeconds": .int(configuration.gracePeriodSeconds),
            "securityContext": ["runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532],
        ]
        if let account = template?.serviceAccountName ?? configuration.serviceAccountName {
            podSpec["serviceAccountName"] = .string(account)
        }
        if let nodeSelector = template?.nodeSelector {
            podSpec["nodeSelector"] = .object(nodeSelector.mapValues(JSONValue.string))
        }
        if let tolerations = template?.tolerations { podSpec["tolerations"] = .array(tolerations) }
        var podMetadata: [String: JSONValue] = ["labels": .object(podLabels)]
        if let annotations = template?.annotations {
            podMetadata["annotations"] = .object(annotations.mapValues(JSONValue.string))
        }
        return [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": .object(metadata),
            "spec": [
                "selector": ["matchLabels": .object(selector)],
                "template": ["metadata": .object(podMetadata), "spec": .object(podSpec)],
            ],
        ]
    }
}
