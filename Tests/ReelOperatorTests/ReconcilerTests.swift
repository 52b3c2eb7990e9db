import Foundation
import ReelCore
import Logging
import ReelAPI
import ReelPostgres
import ReelStorage
import ReelStore
import ReelTestSupport
import Testing
import ReelSupport

@testable import ReelOperator

/// The reconciler and the YAML-directory backend against a real Postgres.
@Suite struct ReconcilerTests {
    static func videoJob(_ name: String, uri: String = "file:///data/a.mp4", extra: String = "") -> String {
        """
        apiVersion: reel.dev/v1alpha1
        kind: VideoJob
        metadata:
          name: \(name)
        spec:
          source:
            uri: \(uri)
        \(extra)
        """
    }

    func setUp() async throws -> (PostgresPool, String, TemporaryDirectory) {
        let url = try await TestPostgres.migratedDatabase("reconciler")
        return (PostgresPool(url: url, maxConnections: 4), url, try TemporaryDirectory(prefix: "reconciler"))
    }

    @Test func backendBumpsGenerationOnlyOnSpecChangesAndMarksRemovedResourcesDeleted() async throws {
        let (pool, _, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let backend = DirectoryBackend(directory: directory.url.path, table: table, logger: TestPostgres.logger) { _ in
        }
        let file = try directory.write("jobs/a.yaml", Self.videoJob("a"))
        let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "a")
        #expect(try await backend.scanOnce() == [key])
        let first = try #require(try await table.get(key))
        #expect(first.generation == 1)
        #expect(first.sourceFile == file)

        #expect(try await backend.scanOnce().isEmpty, "an unchanged file changes nothing")
        _ = try directory.write(
            "jobs/a.yaml",
            Self.videoJob("a").replacingOccurrences(of: "  name: a", with: "  name: a\n  labels: {team: x}"))
        #expect(try await backend.scanOnce() == [key])
        let relabelled = try #require(try await table.get(key))
        #expect(relabelled.generation == 1 && relabelled.resourceVersion > first.resourceVersion)
        #expect(relabelled.uid == first.uid)

        _ = try directory.write("jobs/a.yaml", Self.videoJob("a", uri: "file:///data/b.mp4"))
        try await backend.scanOnce()
        #expect(try await table.get(key)?.generation == 2)

        // Defaults count as the spec: writing a default out explicitly is no change.
        _ = try directory.write(
            "jobs/a.yaml", Self.videoJob("a", uri: "file:///data/b.mp4", extra: "  priority: normal"))
        try await backend.scanOnce()
        #expect(try await table.get(key)?.generation == 2)

        try await table.addFinalizer(uid: first.uid, API.cleanupFinalizer)
        try FileManager.default.removeItem(atPath: file)
        #expect(try await backend.scanOnce() == [key])
        let deleting = try #require(try await table.get(key))
        #expect(deleting.deletionTimestamp != nil, "a finalizer holds the resource until cleanup")
        try await table.removeFinalizer(uid: first.uid, API.cleanupFinalizer)
        #expect(try await table.get(key) == nil)
        await pool.close()
    }

    @Test func anInvalidFileIsReportedWithItsPositionAndKeepsItsResourcesWhileOthersWork() async throws {
        let (pool, _, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let backend = DirectoryBackend(directory: directory.url.path, table: table, logger: TestPostgres.logger) { _ in
        }
        _ = try directory.write("a.yaml", Self.videoJob("a"))
        _ = try directory.write("b.yaml", Self.videoJob("b"))
        try await backend.scanOnce()
        // b gets an unknown field; c is new and fine.
        _ = try directory.write("b.yaml", Self.videoJob("b", extra: "  splitt: {targetSeconds: 5}"))
        _ = try directory.write("c.yml", Self.videoJob("c"))
        _ = try directory.write(".hidden/d.yaml", "not: [valid")
        try await backend.scanOnce()
        let names = try await table.list(kind: "VideoJob").map(\.key.name)
        #expect(names == ["a", "b", "c"], "b's last good version stays; hidden entries are skipped")
        let problems = try await table.problems()
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        #expect(problem.file.hasSuffix("/b.yaml") && problem.line == 8 && problem.column == 3)
        #expect(problem.field == "spec.splitt")
        #expect(problem.message.contains("did you mean"))
        // Fixing the file clears the problem.
        _ = try directory.write("b.yaml", Self.videoJob("b"))
        try await backend.scanOnce()
        #expect(try await table.problems().isEmpty)
        await pool.close()
    }

    /// `count` VideoJobs whose every task succeeded, each with its finalizer, its job row and one chunk.
    static func finishedJobs(_ count: Int, table: ResourceTable, pool: PostgresPool) async throws -> [ResourceKey] {
        var keys: [ResourceKey] = []
        for index in 0..<count {
            let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "job-\(index)")
            keys.append(key)
            let spec = VideoJobSpec(source: SourceSpec(uri: "file:///data/\(index).mp4"))
            try await table.apply(
                key, labels: nil, annotations: nil, spec: try JSONDocument(encoding: spec), sourceFile: nil)
            let stored = try #require(try await table.get(key))
            try await table.addFinalizer(uid: stored.uid, API.cleanupFinalizer)
            let job = try await pool.query(
                """
                INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec, started_at)
                VALUES ($1, 'default', $2, 1, $3::jsonb, now()) RETURNING id
                """, [stored.uid, key.name, try JSONDocument(encoding: spec)]
            ).first!.decode(Int64.self, at: 0)
            try await pool.query(
                """
                INSERT INTO video_chunks
                    (job_id, chunk_index, start_seconds, duration_seconds, bytes, sha256, storage_key, analysis)
                VALUES ($1, 0, 0, 10, 100, 'x', 'k', '{}')
                """, [job])
            try await pool.query(
                """
                INSERT INTO job_queue (job_id, generation, stage, chunk_index, state, finished_at)
                SELECT $1, 1, s, CASE WHEN s = 'analyze' THEN 0 END, 'succeeded', now()
                FROM unnest(ARRAY['ingest', 'split', 'analyze', 'assemble', 'render']) s
                """, [job])
        }
        return keys
    }

    @Test func anIdleResyncOfAHundredFinishedJobsWritesNothing() async throws {
        let (pool, url, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let store = try FileSystemStore(root: directory.path("store"))
        let reconciler = Reconciler(
            database: Database(pool: pool, url: url), store: store, configuration: ReconcilerConfiguration(),
            logger: TestPostgres.logger)
        let keys = try await Self.finishedJobs(100, table: table, pool: pool)
        for key in keys { try await reconciler.reconcile(key) }
        let afterFirst = reconciler.counts.statusWrites
        #expect(afterFirst == 100)
        let statuses = try await table.list(kind: "VideoJob").map { try $0.videoJob().status?.phase }
        #expect(statuses.allSatisfy { $0 == .Succeeded })
        let versions = try await table.list(kind: "VideoJob").map(\.resourceVersion)
        for key in keys { try await reconciler.reconcile(key) }
        #expect(reconciler.counts.statusWrites == afterFirst, "an idle resync writes no status")
        #expect(try await table.list(kind: "VideoJob").map(\.resourceVersion) == versions)
        await pool.close()
    }

    @Test func thePeriodicResyncQueuesOnlyJobsThatAreNotSettled() async throws {
        let (pool, url, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let reconciler = Reconciler(
            database: Database(pool: pool, url: url), store: try FileSystemStore(root: directory.path("store")),
            configuration: ReconcilerConfiguration(), logger: TestPostgres.logger)
        let keys = try await Self.finishedJobs(10, table: table, pool: pool)
        let suspended = ResourceKey(kind: "VideoJob", namespace: "default", name: "suspended")
        let spec = VideoJobSpec(source: SourceSpec(uri: "file:///data/s.mp4"), suspend: true)
        try await table.apply(
            suspended, labels: nil, annotations: nil, spec: try JSONDocument(encoding: spec), sourceFile: nil)
        #expect(try await table.unsettledKeys(kind: "VideoJob") == keys + [suspended], "no status yet: all unsettled")
        for key in keys + [suspended] { try await reconciler.reconcile(key) }
        #expect(try await table.get(suspended).map { try $0.videoJob().status?.phase } == .Suspended)
        #expect(try await table.unsettledKeys(kind: "VideoJob").isEmpty)
        await reconciler.resyncUnsettled()
        #expect(await reconciler.workQueue.depth == 0, "nothing settled is looked at again by the periodic resync")
        await reconciler.resyncAll()
        #expect(await reconciler.workQueue.depth == 11, "a full resync (start, reconnect) still looks at everything")

        // A new generation and a deletion each unsettle their job until it is reconciled.
        let changed = VideoJobSpec(source: SourceSpec(uri: "file:///data/changed.mp4"))
        try await table.apply(
            keys[3], labels: nil, annotations: nil, spec: try JSONDocument(encoding: changed), sourceFile: nil)
        #expect(try await table.requestDeletion(keys[7]))
        #expect(try await table.unsettledKeys(kind: "VideoJob") == [keys[3], keys[7]])
        await pool.close()
    }

    @Test func specChangeCancelsTheOldGenerationsTasksAndDeletionCleansUp() async throws {
        let (pool, url, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let store = try FileSystemStore(root: directory.path("store"))
        let statusDirectory = directory.path("status")
        let reconciler = Reconciler(
            database: Database(pool: pool, url: url), store: store,
            configuration: ReconcilerConfiguration(statusDirectory: statusDirectory), logger: TestPostgres.logger)
        let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "a")
        let spec = VideoJobSpec(source: SourceSpec(uri: "file:///data/a.mp4"))
        try await table.apply(
            key, labels: nil, annotations: nil, spec: try JSONDocument(encoding: spec), sourceFile: nil)
        try await reconciler.reconcile(key)
        let uid = try #require(try await table.get(key)).uid
        #expect(try await table.get(key)?.finalizers == [API.cleanupFinalizer])
        let tasks = try await pool.query("SELECT stage, state, generation FROM job_queue")
        #expect(tasks.count == 1)
        #expect(try tasks.first?.decode(String.self, at: 0) == "ingest")
        let mirror = "\(statusDirectory)/default/VideoJob/a.yaml"
        #expect(try String(contentsOfFile: mirror, encoding: .utf8).contains("phase: Pending"))

        var changed = spec
        changed.source.uri = "file:///data/b.mp4"
        try await table.apply(
            key, labels: nil, annotations: nil, spec: try JSONDocument(encoding: changed), sourceFile: nil)
        try await reconciler.reconcile(key)
        let states = try await pool.query("SELECT generation, state FROM job_queue ORDER BY generation").map {
            "\(try $0.decode(Int.self, at: 0)):\(try $0.decode(String.self, at: 1))"
        }
        #expect(states == ["1:cancelled", "2:available"])
        #expect(try await table.get(key)?.videoJob().status?.observedGeneration == 2)

        _ = try await store.put("jobs/\(uid)/source/a.mp4", data: Data("x".utf8))
        try await table.requestDeletion(key)
        try await reconciler.reconcile(key)
        #expect(try await table.get(key) == nil, "the finalizer was removed after cleanup")
        #expect(try await pool.query("SELECT 1 FROM processing_jobs").isEmpty)
        #expect(try await pool.query("SELECT 1 FROM job_queue").isEmpty)
        #expect(try await store.list(prefix: "jobs/\(uid)").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: mirror))
        await pool.close()
    }
}

extension ReconcilerTests {
    @Test func theRunningBackendSeesAFileChangeThroughInotifyLongBeforeItsPoll() async throws {
        let (pool, _, directory) = try await setUp()
        let table = ResourceTable(pool: pool)
        let seen = AsyncStream<[ResourceKey]>.makeStream()
        // A one-hour poll: only inotify can deliver the change in time.
        let backend = DirectoryBackend(
            directory: directory.url.path, table: table, logger: TestPostgres.logger, pollInterval: .seconds(3600)
        ) { keys in seen.continuation.yield(keys) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await backend.run() }
            // The first (empty) scan: the watches are in place.
            #expect(await BackgroundProcess.eventually(timeout: .seconds(30)) { backend.scans >= 1 })
            try FileManager.default.createDirectory(atPath: directory.path("nested"), withIntermediateDirectories: true)
            // The new directory wakes a scan, which watches it too.
            #expect(await BackgroundProcess.eventually(timeout: .seconds(30)) { backend.scans >= 2 })
            _ = try directory.write("nested/a.yaml", Self.videoJob("a"))
            let keys = try await TimedEvents(seen.stream, limit: .seconds(30)).next()
            #expect(keys == [ResourceKey(kind: "VideoJob", namespace: "default", name: "a")])
            group.cancelAll()
        }
        await pool.close()
    }
}
