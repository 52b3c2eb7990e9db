import Foundation
import ReelCore
import ReelHTTP
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `reel operator` against a real kube-apiserver 1.20 (hack/kube-up.sh), a real Postgres and real media.
@Suite(.serialized, .disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct OperatorTests {
    /// A kube-apiserver, a database, a sample video and a place for outputs.
    struct Cluster {
        let server: KubeAPIServer
        let directory: TemporaryDirectory
        let databaseURL: String
        let pool: PostgresPool

        init(_ prefix: String) async throws {
            server = try await KubeAPIServer()
            directory = try TemporaryDirectory(prefix: prefix)
            try FileManager.default.createDirectory(atPath: directory.path("media"), withIntermediateDirectories: true)
            let sample = try await SampleMedia.sample(in: directory, seconds: 12)
            try FileManager.default.moveItem(atPath: sample, toPath: directory.path("media/sample.mp4"))
            databaseURL = try await TestPostgres.database(prefix)
            pool = PostgresPool(url: databaseURL, maxConnections: 2)
        }

        func stop() async {
            await pool.close()
            await server.stop()
        }

        /// Runs `body` on a fresh cluster and stops it afterwards, whether `body` threw or not.
        static func with(_ prefix: String, _ body: (Cluster) async throws -> Void) async throws {
            let cluster = try await Cluster(prefix)
            do {
                try await body(cluster)
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }

        /// Starts `reel operator` with health and metrics on ports the kernel picks; returns it with those ports
        /// once it listens on both.
        func startOperator(
            _ name: String, _ extra: [String], environment: [String: String] = [:], storage: String? = nil
        ) async throws -> (process: BackgroundProcess, health: Int, metrics: Int) {
            let arguments =
                [
                    "operator", "--kubeconfig", server.kubeconfig, "--namespace", "default",
                    "--database-url", databaseURL, "--storage", storage ?? "file://\(directory.path("store"))",
                    "--allow-root", directory.path("media"), "--state", directory.path("state-\(name)"),
                    "--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
                    "--lease-seconds", "2", "--grace-seconds", "6", "--identity", name,
                ] + extra
            let process = try BackgroundProcess(
                ReelPaths.reelBinary, arguments, environment: environment, outputPath: directory.path("\(name).log"))
            do {
                let ports = try await process.healthAndMetricsPorts()
                return (process, ports.health, ports.metrics)
            } catch {
                process.send(SIGKILL)
                throw error
            }
        }

        /// A VideoJob `name` over the sample, outputs in `media/NAME-out`; `analysis` replaces the default.
        func apply(job name: String, analysis: String? = nil, extra: String = "") async throws {
            try directory.write(
                "\(name).yaml",
                """
                apiVersion: reel.dev/v1alpha1
                kind: VideoJob
                metadata:
                  name: \(name)
                  namespace: default
                spec:
                  source:
                    uri: file://\(directory.path("media/sample.mp4"))
                  split:
                    targetSeconds: 4
                  output:
                    uri: file://\(directory.path("media/\(name)-out"))
                \(analysis.map { "  analysis: \($0)\n  render: {enabled: false}" } ?? "")
                \(extra)
                """)
            let applied = try await server.kubectl(["apply", "-f", directory.path("\(name).yaml")])
            #expect(applied.status == 0, "\(applied.output)")
        }

        /// `kubectl get KIND NAME -o json`, parsed; `nil` when it does not exist.
        func get(_ kind: String, _ name: String) async throws -> [String: Any]? {
            let result = try await server.kubectl(["get", kind, name, "-n", "default", "-o", "json"])
            guard result.status == 0 else { return nil }
            let json = String(result.output.drop { $0 != "{" })
            return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        }
    }

    static func field(_ object: [String: Any]?, _ path: String...) -> Any? {
        var value: Any? = object
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }

    static func httpGet(_ port: Int, _ path: String) async -> (status: Int, body: String)? {
        guard
            let response = try? await HTTPClient.send(
                HTTPRequest(url: "http://127.0.0.1:\(port)\(path)", timeout: .seconds(5)))
        else { return nil }
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// The value of one sample line of the Prometheus text format, e.g. `reel_leader`.
    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, parts[0] == name { return Double(parts[1]) }
        }
        return nil
    }

    @Test func twoOperatorsOneLeaderJobsSucceedWithEventsFinalizerRunsAndTheStandbyTakesOver() async throws {
        try await Cluster.with("operator") { try await runLeaderElectionScenario($0) }
    }

    func runLeaderElectionScenario(_ cluster: Cluster) async throws {
        let a = try await cluster.startOperator("op-a", ["--leader-elect"])
        let b = try await cluster.startOperator("op-b", ["--leader-elect"])
        defer {
            a.process.send(SIGKILL)
            b.process.send(SIGKILL)
        }
        // Both become ready (caches synced): one leads, the other stands by.
        for op in [a, b] {
            let ready = await BackgroundProcess.eventually(timeout: .seconds(60)) {
                await Self.httpGet(op.health, "/readyz")?.status == 200
            }
            #expect(ready, "\(op.process.output)")
            #expect(await Self.httpGet(op.health, "/healthz")?.status == 200)
            // Without --api-addr, `reel operator` runs as `reel-operator` (same PID), Foundation not in memory.
            let image = try ProcessImage(pid: op.process.pid)
            #expect(image.executable.hasSuffix("/reel-operator"), "\(image.executable)")
            #expect(image.foundationLibraries.isEmpty, "mapped: \(image.foundationLibraries)")
        }
        var leader = a, standby = b
        let elected = await BackgroundProcess.eventually(timeout: .seconds(30)) {
            let lease = try? await cluster.get("lease", "reel-operator")
            return Self.field(lease, "spec", "holderIdentity") as? String != nil
        }
        #expect(elected)
        let holder = Self.field(try await cluster.get("lease", "reel-operator"), "spec", "holderIdentity") as? String
        if holder == "op-b" { swap(&leader, &standby) }
        #expect(await Self.httpGet(standby.health, "/readyz")?.body.contains("standing by") == true)
        let leaderMetrics = await Self.httpGet(leader.metrics, "/metrics")?.body ?? ""
        let standbyMetrics = await Self.httpGet(standby.metrics, "/metrics")?.body ?? ""
        #expect(Self.metric(leaderMetrics, "reel_leader") == 1, "\(leaderMetrics)")
        #expect(Self.metric(standbyMetrics, "reel_leader") == 0)

        // kubectl apply → Succeeded, with conditions, Events, outputs and the finalizer.
        try await cluster.apply(job: "first")
        let succeeded = try await BackgroundProcess.eventually(timeout: .seconds(180)) {
            Self.field(try await cluster.get("vj", "first"), "status", "phase") as? String == "Succeeded"
        }
        #expect(succeeded, "\(leader.process.output)")
        let job = try #require(try await cluster.get("vj", "first"))
        #expect(Self.field(job, "metadata", "finalizers") as? [String] == ["reel.dev/cleanup"])
        let conditions = Self.field(job, "status", "conditions") as? [[String: Any]] ?? []
        let done = conditions.first { $0["type"] as? String == "Succeeded" }
        #expect(done?["status"] as? String == "True" && done?["reason"] as? String == "Completed")
        #expect(Self.field(job, "status", "observedGeneration") as? Int == 1)
        #expect(Self.field(job, "status", "progress") as? Int == 100)
        #expect(FileManager.default.fileExists(atPath: cluster.directory.path("media/first-out/timeline.otio")))
        let events = try await cluster.server.kubectl(["get", "events.v1.events.k8s.io", "-n", "default", "-o", "json"])
        let eventList =
            try JSONSerialization.jsonObject(with: Data(String(events.output.drop { $0 != "{" }).utf8))
            as? [String: Any]
        let reasons = (eventList?["items"] as? [[String: Any]] ?? [])
            .filter { Self.field($0, "regarding", "name") as? String == "first" }
            .compactMap { $0["reason"] as? String }
        #expect(reasons.contains("Processing") && reasons.contains("Succeeded"), "\(reasons)")
        #expect(Set(reasons).count == reasons.count, "a repeated event is aggregated, not duplicated: \(reasons)")

        // The metrics a dashboard needs, in Prometheus text format.
        let exposition = await Self.httpGet(leader.metrics, "/metrics")?.body ?? ""
        for name in [
            #"reel_reconcile_total{controller="videojob"}"#, #"reel_reconcile_errors_total{controller="videojob"}"#,
            #"reel_reconcile_time_seconds_count{controller="videojob"}"#, #"reel_workqueue_depth{name="videojob"}"#,
            #"reel_queue_depth{stage="analyze"}"#, #"reel_queue_oldest_ready_seconds{stage="ingest"}"#,
            #"reel_pool_replicas{pool="render"}"#, "reel_leader",
        ] {
            #expect(Self.metric(exposition, name) != nil, "\(name) missing from /metrics")
        }
        #expect((Self.metric(exposition, #"reel_reconcile_time_seconds_count{controller="videojob"}"#) ?? 0) > 0)

        // No hot loop: a label change is one reconcile and no status write.
        let before =
            Self.metric(
                await Self.httpGet(leader.metrics, "/metrics")?.body ?? "",
                #"reel_reconcile_total{controller="videojob"}"#) ?? -1
        let labelled = try await cluster.server.kubectl(["label", "vj", "first", "-n", "default", "team=media"])
        #expect(labelled.status == 0)
        let version = Self.field(try await cluster.get("vj", "first"), "metadata", "resourceVersion") as? String
        let reconciled = await BackgroundProcess.eventually(timeout: .seconds(20)) {
            Self.metric(
                await Self.httpGet(leader.metrics, "/metrics")?.body ?? "",
                #"reel_reconcile_total{controller="videojob"}"#) == before + 1
        }
        #expect(reconciled, "the label change is reconciled once")
        // Absence can only be watched for a while: two seconds more bring no reconcile and no write.
        try await Task.sleep(for: .seconds(2))
        let after = Self.metric(
            await Self.httpGet(leader.metrics, "/metrics")?.body ?? "", #"reel_reconcile_total{controller="videojob"}"#)
        #expect(after == before + 1)
        #expect(Self.field(try await cluster.get("vj", "first"), "metadata", "resourceVersion") as? String == version)

        // Kill the leader: the standby takes over within the lease duration (15 s) and processes new work.
        let killed = Date()
        leader.process.send(SIGKILL)
        _ = await leader.process.wait()
        let takeover = try await BackgroundProcess.eventually(timeout: .seconds(40)) {
            Self.field(try await cluster.get("lease", "reel-operator"), "spec", "holderIdentity") as? String
                == (holder == "op-b" ? "op-a" : "op-b")
        }
        #expect(takeover)
        let waited = Date().timeIntervalSince(killed)
        #expect(waited < 15 + 2 + 3, "took over after \(waited) s (lease 15 s, retry 2 s)")
        try await cluster.apply(job: "second")
        let secondDone = try await BackgroundProcess.eventually(timeout: .seconds(180)) {
            Self.field(try await cluster.get("vj", "second"), "status", "phase") as? String == "Succeeded"
        }
        #expect(secondDone, "\(standby.process.output)")

        // Deleting runs the finalizer: rows and outputs go, then the object.
        let deleted = try await cluster.server.kubectl([
            "delete", "vj", "first", "-n", "default", "--wait=true", "--timeout=60s",
        ])
        #expect(deleted.status == 0, "\(deleted.output)")
        #expect(try await cluster.get("vj", "first") == nil)
        let rows = try await cluster.pool.query("SELECT count(*) FROM processing_jobs WHERE name = 'first'")
        #expect(try rows.first?.decode(Int.self, at: 0) == 0)
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.path("media/first-out/timeline.otio")))
        #expect(FileManager.default.fileExists(atPath: cluster.directory.path("media/second-out/timeline.otio")))

        // A graceful stop releases the lease at once.
        standby.process.send(SIGTERM)
        #expect(await standby.process.wait() == 0, "\(standby.process.output)")
        let lease = try await cluster.get("lease", "reel-operator")
        #expect(
            (Self.field(lease, "spec", "holderIdentity") as? String ?? "").isEmpty,
            "released: \(String(describing: lease))")
    }

    @Test func kubernetesRuntimeRunsAnOwnedDeploymentPerPoolSizedByQueueDepthThroughTheScaleSubresource() async throws {
        try await Cluster.with("operator-kube") { try await runKubernetesRuntimeScenario($0) }
    }

    func runKubernetesRuntimeScenario(_ cluster: Cluster) async throws {
        let secret = try await cluster.server.kubectl([
            "create", "secret", "generic", "reel-worker", "-n", "default",
            "--from-literal=databaseURL=\(cluster.databaseURL)", "--from-literal=storage=file:///data/store",
        ])
        #expect(secret.status == 0, "\(secret.output)")
        try cluster.directory.write(
            "pool.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: WorkerPool
            metadata:
              name: analyzers
              namespace: default
            spec:
              stages: [analyze]
              maxReplicas: 3
              tasksPerReplica: 1
              concurrency: 2
              scaleDownDelaySeconds: 0
              template:
                image: registry.example/reel:test
                env:
                - {name: LOG_LEVEL, value: debug}
                resources:
                  limits: {memory: 1Gi}
                nodeSelector:
                  media: "true"
                labels:
                  team: video
            """)
        let applied = try await cluster.server.kubectl(["apply", "-f", cluster.directory.path("pool.yaml")])
        #expect(applied.status == 0, "\(applied.output)")
        let poolUID = try #require(
            Self.field(try await cluster.get("workerpool", "analyzers"), "metadata", "uid") as? String)

        let op = try await cluster.startOperator(
            "op-k", ["--worker-runtime", "kubernetes", "--worker-image", "reel:dev"])
        defer { op.process.send(SIGKILL) }
        let created = try await BackgroundProcess.eventually(timeout: .seconds(60)) {
            try await cluster.get("deployment", "reel-worker-analyzers") != nil
        }
        #expect(created, "\(op.process.output)")
        let deployment = try #require(try await cluster.get("deployment", "reel-worker-analyzers"))
        let owners = Self.field(deployment, "metadata", "ownerReferences") as? [[String: Any]] ?? []
        #expect(owners.count == 1)
        #expect(owners.first?["uid"] as? String == poolUID && owners.first?["kind"] as? String == "WorkerPool")
        #expect(owners.first?["controller"] as? Bool == true)
        #expect(Self.field(deployment, "spec", "replicas") as? Int == 0, "an idle pool has no workers")
        let pod = Self.field(deployment, "spec", "template", "spec") as? [String: Any]
        let container = (pod?["containers"] as? [[String: Any]])?.first ?? [:]
        #expect(container["image"] as? String == "registry.example/reel:test", "the pool's image wins")
        let arguments = container["args"] as? [String] ?? []
        #expect(arguments.starts(with: ["worker", "--stages", "analyze", "--concurrency", "2", "--pool", "analyzers"]))
        #expect(arguments.contains("--kube-secrets"))
        let env = container["env"] as? [[String: Any]] ?? []
        let database = env.first { $0["name"] as? String == "REEL_DATABASE_URL" }
        #expect(Self.field(database, "valueFrom", "secretKeyRef", "name") as? String == "reel-worker")
        #expect(Self.field(database, "valueFrom", "secretKeyRef", "key") as? String == "databaseURL")
        #expect(env.contains { $0["name"] as? String == "LOG_LEVEL" && $0["value"] as? String == "debug" })
        // S3 keys come from the same Secret when it has them (optional: a service-account role needs none).
        let secretKey = env.first { $0["name"] as? String == "AWS_SECRET_ACCESS_KEY" }
        #expect(Self.field(secretKey, "valueFrom", "secretKeyRef", "name") as? String == "reel-worker")
        #expect(Self.field(secretKey, "valueFrom", "secretKeyRef", "optional") as? Bool == true)
        #expect(!String(describing: deployment).contains(cluster.databaseURL), "the database URL stays in the Secret")
        #expect(Self.field(container, "resources", "limits", "memory") as? String == "1Gi")
        #expect(Self.field(pod, "nodeSelector", "media") as? String == "true")
        #expect(Self.field(pod, "securityContext", "runAsNonRoot") as? Bool == true)
        #expect(Self.field(container, "securityContext", "readOnlyRootFilesystem") as? Bool == true)
        #expect(Self.field(deployment, "spec", "template", "metadata", "labels", "team") as? String == "video")
        // Default pools for the other stages live in the operator's namespace, owned by no pool.
        let ingest = try await cluster.get("deployment", "reel-worker-ingest")
        #expect(ingest != nil && Self.field(ingest, "metadata", "ownerReferences") == nil)

        // Three analyze tasks → three replicas (one task each, max 3); none → zero.
        let jobs = JobStore(pool: cluster.pool)
        let jobID = try await jobs.upsertJob(
            resourceUID: UUID().uuidString.lowercased(), namespace: "default", name: "synthetic", generation: 1,
            spec: JSONDocument(text: "{}"))
        let queue = TaskQueue(pool: cluster.pool)
        try await queue.enqueue(
            (0..<3).map {
                NewTask(
                    jobID: jobID, generation: 1, stage: .analyze, chunkIndex: $0, payload: JSONDocument(text: "{}"))
            })
        let scaledUp = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            Self.field(try await cluster.get("deployment", "reel-worker-analyzers"), "spec", "replicas") as? Int == 3
        }
        #expect(scaledUp, "\(op.process.output)")
        let poolStatus = Self.field(try await cluster.get("workerpool", "analyzers"), "status") as? [String: Any]
        #expect(
            poolStatus?["queueDepth"] as? Int == 3 && poolStatus?["desiredReplicas"] as? Int == 3,
            "\(String(describing: poolStatus))")
        // A template change is applied to the Deployment without touching its replicas.
        let patched = try await cluster.server.kubectl([
            "patch", "workerpool", "analyzers", "-n", "default", "--type", "merge",
            "-p", #"{"spec":{"template":{"image":"registry.example/reel:next"}}}"#,
        ])
        #expect(patched.status == 0, "\(patched.output)")
        let updated = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            let current = try await cluster.get("deployment", "reel-worker-analyzers")
            let containers = Self.field(current, "spec", "template", "spec", "containers") as? [[String: Any]]
            return containers?.first?["image"] as? String == "registry.example/reel:next"
        }
        #expect(updated, "\(op.process.output)")
        #expect(
            Self.field(try await cluster.get("deployment", "reel-worker-analyzers"), "spec", "replicas") as? Int == 3)

        _ = try await queue.cancel(jobID: jobID)
        let scaledDown = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            Self.field(try await cluster.get("deployment", "reel-worker-analyzers"), "spec", "replicas") as? Int == 0
        }
        #expect(scaledDown)

        // A Deployment deleted behind the operator's back comes back when it is next needed.
        let removed = try await cluster.server.kubectl([
            "delete", "deployment", "reel-worker-analyzers", "-n", "default",
        ])
        #expect(removed.status == 0, "\(removed.output)")
        let second = try await jobs.upsertJob(
            resourceUID: UUID().uuidString.lowercased(), namespace: "default", name: "synthetic-2", generation: 1,
            spec: JSONDocument(text: "{}"))
        try await queue.enqueue(
            (0..<2).map {
                NewTask(
                    jobID: second, generation: 1, stage: .analyze, chunkIndex: $0, payload: JSONDocument(text: "{}"))
            })
        let recreated = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            Self.field(try await cluster.get("deployment", "reel-worker-analyzers"), "spec", "replicas") as? Int == 2
        }
        #expect(recreated, "\(op.process.output)")

        // A declared pool that takes over the ingest stage retires the default ingest pool's Deployment.
        try cluster.directory.write(
            "ingesters.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: WorkerPool
            metadata: {name: ingesters, namespace: default}
            spec: {stages: [ingest], maxReplicas: 2}
            """)
        #expect(
            try await cluster.server.kubectl(["apply", "-f", cluster.directory.path("ingesters.yaml")]).status == 0)
        let retired = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            let ingest = try await cluster.get("deployment", "reel-worker-ingest")
            let ingesters = try await cluster.get("deployment", "reel-worker-ingesters")
            return ingest == nil && ingesters != nil
        }
        #expect(retired, "\(op.process.output)")

        // Stopping the operator leaves the Deployments as they are (a successor adopts them).
        op.process.send(SIGTERM)
        #expect(await op.process.wait() == 0, "\(op.process.output)")
        #expect(try await cluster.get("deployment", "reel-worker-analyzers") != nil)
    }

    @Test func aGeminiJobReadsItsKeyFromTheSecretItNamesAndAnInvalidJobIsMarkedFailed() async throws {
        let fake = try FakeGemini()
        defer { fake.stop() }
        try await Cluster.with("operator-gemini") { try await runSecretScenario($0, fake) }
    }

    func runSecretScenario(_ cluster: Cluster, _ fake: FakeGemini) async throws {
        try cluster.directory.write(
            "secret.yaml",
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: gemini, namespace: default}
            stringData: {apiKey: "\(fake.apiKey)"}
            """)
        let secret = try await cluster.server.kubectl(["apply", "-f", cluster.directory.path("secret.yaml")])
        #expect(secret.status == 0, "\(secret.output)")
        // No GEMINI_API_KEY anywhere: the workers read the Secret the job names.
        let op = try await cluster.startOperator("op-g", [], environment: ["REEL_GEMINI_ENDPOINT": fake.endpoint])
        defer { op.process.send(SIGKILL) }

        try await cluster.apply(
            job: "keyed", analysis: "{provider: gemini, apiKeySecretRef: {name: gemini, key: apiKey}}")
        try await cluster.apply(
            job: "unkeyed", analysis: "{provider: gemini, apiKeySecretRef: {name: missing, key: apiKey}}")
        // Valid for the CRD's schema, refused by Reel's rules: budgets are for gemini only.
        try await cluster.apply(job: "invalid", analysis: "{provider: local, requestsPerMinute: 5}")
        // Deleted a second after it finishes; the finalizer cleans up behind it.
        try await cluster.apply(job: "ephemeral", analysis: "{provider: local}", extra: "  ttlSecondsAfterFinished: 1")

        let finished = try await BackgroundProcess.eventually(timeout: .seconds(180)) {
            let phases = try await ["keyed", "unkeyed", "invalid"].asyncMap {
                Self.field(try await cluster.get("vj", $0), "status", "phase") as? String
            }
            return phases == ["Succeeded", "Failed", "Failed"]
        }
        #expect(finished, "\(op.process.output)")
        #expect(fake.violations.isEmpty, "\(fake.violations)")
        #expect(fake.generateCalls.count == 3, "one request per 4 s chunk of the 12 s sample")

        let expired = try await BackgroundProcess.eventually(timeout: .seconds(120)) {
            try await cluster.get("vj", "ephemeral") == nil
        }
        #expect(expired, "\(op.process.output)")
        let ephemeralRows = try await cluster.pool.query(
            "SELECT count(*) FROM processing_jobs WHERE name = 'ephemeral'")
        #expect(try ephemeralRows.first?.decode(Int.self, at: 0) == 0)
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.path("media/ephemeral-out/timeline.json")))

        func reason(_ name: String) async throws -> String? {
            let conditions =
                Self.field(try await cluster.get("vj", name), "status", "conditions") as? [[String: Any]] ?? []
            return conditions.first { $0["type"] as? String == "Succeeded" }?["reason"] as? String
        }
        #expect(try await reason("unkeyed") == "SecretNotFound")
        #expect(try await reason("invalid") == "InvalidSpec")
        let invalidMessage =
            (Self.field(try await cluster.get("vj", "invalid"), "status", "conditions") as? [[String: Any]])?
            .first?["message"] as? String ?? ""
        #expect(invalidMessage.contains("spec.analysis.requestsPerMinute"), "\(invalidMessage)")
        let rows = try await cluster.pool.query("SELECT count(*) FROM processing_jobs WHERE name = 'invalid'")
        #expect(try rows.first?.decode(Int.self, at: 0) == 0, "an invalid job never reaches the queue")
        let events = try await cluster.server.kubectl(["get", "events.v1.events.k8s.io", "-n", "default", "-o", "json"])
        let items =
            (try JSONSerialization.jsonObject(with: Data(String(events.output.drop { $0 != "{" }).utf8))
            as? [String: Any])?["items"]
            as? [[String: Any]] ?? []
        #expect(
            items.contains {
                Self.field($0, "regarding", "name") as? String == "invalid" && $0["type"] as? String == "Warning"
                    && $0["reason"] as? String == "InvalidSpec"
            })
        #expect(
            items.contains {
                Self.field($0, "regarding", "name") as? String == "unkeyed"
                    && $0["reason"] as? String == "SecretNotFound"
            })
        let ephemeralReasons = items.filter { Self.field($0, "regarding", "name") as? String == "ephemeral" }.compactMap
        { $0["reason"] as? String }
        #expect(
            ephemeralReasons.contains("Succeeded") && ephemeralReasons.contains("Expired")
                && ephemeralReasons.contains("CleanedUp"),
            "\(ephemeralReasons)")

        // The key is in no log, row, status or event.
        var haystacks = [op.process.output, events.output]
        let logs = cluster.directory.path("state-op-g/logs")
        for file in (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? [] {
            haystacks.append((try? String(contentsOfFile: "\(logs)/\(file)", encoding: .utf8)) ?? "")
        }
        for table in [
            "processing_jobs", "job_queue", "job_logs", "video_chunks", "analysis_cache", "workers",
            "rate_limit_events",
        ] {
            let rows = try await cluster.pool.query("SELECT t::text FROM \(table) t")
            haystacks += try rows.map { try $0.decode(String.self, at: 0) }
        }
        let jobs = try await cluster.server.kubectl(["get", "vj", "-n", "default", "-o", "yaml"])
        haystacks.append(jobs.output)
        #expect(haystacks.count > 10)
        #expect(!haystacks.contains { $0.contains(fake.apiKey) }, "the API key leaked")

        // Edited into a spec Reel refuses (apiKeySecretRef is for gemini only), then deleted after the operator
        // restarted: the finalizer still runs, with the spec the job was processed with (from Postgres: no
        // operator keeps a valid spec in memory for later), instead of hanging.
        let edited = try await cluster.server.kubectl([
            "patch", "vj", "keyed", "-n", "default", "--type", "merge", "-p",
            #"{"spec":{"analysis":{"provider":"local"}}}"#,
        ])
        #expect(edited.status == 0, "\(edited.output)")
        let refused = try await BackgroundProcess.eventually(timeout: .seconds(30)) {
            let job = try await cluster.get("vj", "keyed")
            let why = try await reason("keyed")
            return Self.field(job, "status", "observedGeneration") as? Int == 2 && why == "InvalidSpec"
        }
        #expect(refused, "\(op.process.output)")
        op.process.send(SIGKILL)
        _ = await op.process.wait()
        let restarted = try await cluster.startOperator(
            "op-g2", [], environment: ["REEL_GEMINI_ENDPOINT": fake.endpoint])
        defer { restarted.process.send(SIGKILL) }
        let ready = await BackgroundProcess.eventually(timeout: .seconds(60)) {
            await Self.httpGet(restarted.health, "/readyz")?.status == 200
        }
        #expect(ready, "\(restarted.process.output)")
        let deleted = try await cluster.server.kubectl([
            "delete", "vj", "keyed", "-n", "default", "--wait=true", "--timeout=60s",
        ])
        #expect(deleted.status == 0, "\(deleted.output)")
        let keyedRows = try await cluster.pool.query("SELECT count(*) FROM processing_jobs WHERE name = 'keyed'")
        #expect(try keyedRows.first?.decode(Int.self, at: 0) == 0)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
