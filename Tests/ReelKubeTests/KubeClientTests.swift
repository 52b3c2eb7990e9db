import Foundation
import Synchronization
import ReelTestSupport
import Testing

@testable import ReelKube

/// The client against a real kube-apiserver 1.20 with Reel's CRDs.
@Suite(.serialized, .disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct KubeClientTests {
    static let videoJobs = KubeResource(group: "reel.dev", version: "v1alpha1", plural: "videojobs")

    static func job(_ name: String) -> Data {
        Data(
            (#"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","metadata":{"name":"\#(name)"},"#
                + #""spec":{"source":{"uri":"file:///data/\#(name).mp4"}}}"#).utf8)
    }

    static func field(_ data: Data, _ path: String...) -> Any? {
        var value: Any? = try? JSONSerialization.jsonObject(with: data)
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }

    @Test func crudStatusPagingWatchErrorsLeaderElectionAndEventsAgainstARealServer() async throws {
        let server = try await KubeAPIServer()
        do {
            try await exercise(server)
            try await electLeaders(server)
            try await recordEvents(server)
            try await forgetEvents(server)
            try await renewExecTokens(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func exercise(_ server: KubeAPIServer) async throws {
        let connection = try await KubeConfig.load(path: server.kubeconfig)
        #expect(
            connection.server.hasPrefix("https://127.0.0.1:") && connection.token != nil && connection.tls.caFile != nil
        )
        let client = KubeClient(connection: connection)
        let jobs = Self.videoJobs

        // A watch opened before the writes sees them in order. The server ends it after `timeoutSeconds`: under a
        // loaded CI run the writes below once took longer than 30 s, and the last two events came after its end.
        let start = try await client.list(jobs, namespace: "default")
        let watch = try await client.watch(
            jobs, namespace: "default", resourceVersion: start.resourceVersion, timeoutSeconds: 600)
        let events = TimedEvents(watch, limit: .seconds(30))

        let created = try await client.create(jobs, namespace: "default", Self.job("a"))
        #expect(Self.field(created, "metadata", "generation") as? Int == 1)
        #expect(Self.field(created, "spec", "priority") as? String == "normal", "the CRD's defaults applied")
        _ = try await client.create(jobs, namespace: "default", Self.job("b"))
        _ = try await client.create(jobs, namespace: "default", Self.job("c"))

        await #expect { try await client.create(jobs, namespace: "default", Self.job("a")) } throws: {
            ($0 as? KubeError)?.code == 409 && ($0 as? KubeError)?.reason == "AlreadyExists"
        }
        await #expect { try await client.get(jobs, namespace: "default", name: "nope") } throws: {
            ($0 as? KubeError)?.isNotFound == true && ($0 as? KubeError)?.reason == "NotFound"
        }

        let first = try await client.list(jobs, namespace: "default", limit: 2)
        #expect(first.items.count == 2 && first.continueToken != nil)
        let all = try await client.listAll(jobs, namespace: "default", pageSize: 1)
        #expect(all.items.compactMap { Self.field($0, "metadata", "name") as? String } == ["a", "b", "c"])

        let labelled = try await client.mergePatch(
            jobs, namespace: "default", name: "a", Data(#"{"metadata":{"labels":{"team":"x"}}}"#.utf8))
        #expect(Self.field(labelled, "metadata", "generation") as? Int == 1, "labels are not the spec")
        let status = try await client.mergePatch(
            jobs, namespace: "default", name: "a", subresource: "status",
            Data(#"{"status":{"phase":"Ingesting","progress":5}}"#.utf8))
        #expect(Self.field(status, "status", "phase") as? String == "Ingesting")
        let ignored = try await client.mergePatch(
            jobs, namespace: "default", name: "a", Data(#"{"status":{"phase":"Failed"}}"#.utf8))
        #expect(Self.field(ignored, "status", "phase") as? String == "Ingesting", "status only through /status")
        let respec = try await client.mergePatch(
            jobs, namespace: "default", name: "a", Data(#"{"spec":{"priority":"high"}}"#.utf8))
        #expect(Self.field(respec, "metadata", "generation") as? Int == 2)

        await #expect {
            try await client.mergePatch(
                jobs, namespace: "default", name: "a", Data(#"{"spec":{"priority":"extreme"}}"#.utf8))
        } throws: { ($0 as? KubeError)?.code == 422 && ($0 as? KubeError)?.reason == "Invalid" }

        try await client.delete(jobs, namespace: "default", name: "c")

        // A status write that loses a race (409) is retried after a re-read.
        let calls = Counter()
        let replaced = try await client.updateStatus(jobs, namespace: "default", name: "a") { object in
            if calls.increment() == 1 {
                // Someone else writes between our read and our write.
                _ = try await client.mergePatch(
                    jobs, namespace: "default", name: "a", Data(#"{"metadata":{"labels":{"race":"1"}}}"#.utf8))
            }
            var json = try JSONSerialization.jsonObject(with: object) as! [String: Any]
            json["status"] = ["phase": "Splitting", "progress": 20]
            return try JSONSerialization.data(withJSONObject: json)
        }
        #expect(calls.value == 2)
        #expect(Self.field(replaced, "status", "phase") as? String == "Splitting")

        var seen: [String] = []
        while seen.count < 7, let event = try await events.next() {
            if event.type == "BOOKMARK" { continue }
            seen.append("\(event.type) \(Self.field(event.object, "metadata", "name") as? String ?? "?")")
        }
        #expect(seen == ["ADDED a", "ADDED b", "ADDED c", "MODIFIED a", "MODIFIED a", "MODIFIED a", "DELETED c"])
        // (The race's label patch and the status write come after.)

        // A resourceVersion older than the server keeps is 410 Gone: the caller must list again.
        await #expect {
            for try await _ in try await client.watch(
                jobs, namespace: "default", resourceVersion: "1", timeoutSeconds: 10)
            {}
        } throws: { ($0 as? KubeError)?.isGone == true }

        // The informer: a full list first, a page of one object at a time (synced once every listed object is
        // handed on), then the watch's changes, in order.
        let informer = Informer(client: client, resource: jobs, namespace: "default", pageSize: 1)
        let (changes, sink) = AsyncStream.makeStream(of: String.self)
        let handed = Handed()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await informer.run { event in
                    switch event {
                    case .synced: sink.yield("synced")
                    case .upsert(let key, let object):
                        handed.objects.withLock { $0[key] = object }
                        sink.yield("upsert \(key)")
                    case .delete(let key): sink.yield("delete \(key)")
                    }
                }
            }
            let iterator = TimedEvents(changes, limit: .seconds(30))
            var got: [String] = []
            for _ in 0..<3 { got.append(try await iterator.next() ?? "") }
            #expect(got == ["upsert default/a", "upsert default/b", "synced"])
            _ = try await client.create(jobs, namespace: "default", Self.job("d"))
            try await client.delete(jobs, namespace: "default", name: "b")
            got = []
            for _ in 0..<2 { got.append(try await iterator.next() ?? "") }
            #expect(got == ["upsert default/d", "delete default/b"])
            #expect(informer.keys.sorted() == ["default/a", "default/d"])
            // The informer hands on objects without server-side apply's bookkeeping, which the server keeps and
            // sends.
            let stored = try await client.get(jobs, namespace: "default", name: "d")
            #expect(Self.field(stored, "metadata", "managedFields") != nil)
            for (key, object) in handed.objects.withLock({ $0 }) {
                #expect(Self.field(object, "metadata", "managedFields") == nil, "\(key)")
                #expect(Self.field(object, "metadata", "uid") != nil, "\(key)")
            }
            #expect(informer.counts.lists == 1)
            group.cancelAll()
        }
    }
}

/// The objects an informer handed on, by key (the last of each).
final class Handed: Sendable {
    let objects = Mutex<[String: Data]>([:])
}

/// Kubeconfig resolution needs no server: it runs with or without REEL_SKIP_KUBE.
@Suite struct KubeConfigTests {
    @Test func aKubeconfigWithDataFieldsAndATokenFileResolves() async throws {
        let directory = try TemporaryDirectory(prefix: "kubeconfig")
        _ = try directory.write("token", "secret-token\n")
        let ca = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
        let path = try directory.write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: two
            clusters:
            - name: c1
              cluster: {server: "https://one.example:6443/", insecure-skip-tls-verify: true}
            - name: c2
              cluster: {server: "https://two.example:6443", certificate-authority-data: \(ca)}
            users:
            - name: u1
              user: {tokenFile: token}
            contexts:
            - name: one
              context: {cluster: c1, user: u1}
            - name: two
              context: {cluster: c2, user: u1, namespace: media}
            """)
        let two = try await KubeConfig.load(path: path)
        #expect(two.server == "https://two.example:6443" && two.namespace == "media" && two.token == "secret-token")
        #expect(two.tls.caData.map { String(decoding: $0, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE") } == true)
        // A rotated token file is read again: the next request carries the new token.
        _ = try directory.write("token", "rotated-token\n")
        #expect(two.currentToken == "rotated-token")
        let headers = KubeClient(connection: two).request("GET", "/api").headers
        #expect(headers.contains { $0.name == "Authorization" && $0.value == "Bearer rotated-token" })
        let one = try await KubeConfig.load(path: path, context: "one")
        #expect(one.server == "https://one.example:6443" && one.tls.insecure && one.namespace == "default")
        await #expect { try await KubeConfig.load(path: path, context: "three") } throws: {
            "\($0)".contains("no context \"three\"")
        }
        let inCluster = try? KubeConfig.inCluster(environment: [:])
        #expect(inCluster == nil)
    }
}

extension KubeClientTests {
    /// An exec credential plugin's token is renewed when the server refuses it (401) and when it expires: a
    /// long-running operator outlives its first token.
    func renewExecTokens(_ server: KubeAPIServer) async throws {
        let directory = try TemporaryDirectory(prefix: "exec-plugin")
        let runs = directory.path("runs")
        // The first run gives a token the server refuses; every later run the real one, valid for 20 s.
        let plugin = try directory.write(
            "plugin.sh",
            """
            #!/bin/bash
            set -e
            n=$(( $(cat "\(runs)" 2>/dev/null || echo 0) + 1 ))
            echo "$n" > "\(runs)"
            token=\(server.token)
            [ "$n" = 1 ] && token=refused-token
            expiry=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
            v1=client.authentication.k8s.io/v1
            printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' \\
                "$v1" "$token" "$expiry"
            """)
        chmod(plugin, 0o755)
        let config = try directory.write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: exec
            clusters:
            - name: c
              cluster: {server: "\(server.url)", certificate-authority: "\(server.caFile)"}
            users:
            - name: u
              user:
                exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(plugin)", args: []}
            contexts:
            - name: exec
              context: {cluster: c, user: u}
            """)
        let connection = try await KubeConfig.load(path: config)
        let exec = try #require(connection.exec)
        #expect(await exec.runs == 1)
        let client = KubeClient(connection: connection)
        // Refused (401): the plugin runs again, and the request is retried once with the new token.
        let list = try await client.list(Self.videoJobs, namespace: "default", limit: 1, continueToken: nil)
        #expect(list.resourceVersion != nil)
        #expect(await exec.runs == 2)
        _ = try await client.list(Self.videoJobs, namespace: "default", limit: 1, continueToken: nil)
        #expect(await exec.runs == 2, "a token that has not expired is reused")
        // Past its expiry (less the margin), the token is replaced before the next request.
        _ = try await exec.token(now: Date().addingTimeInterval(15))
        #expect(await exec.runs == 3)
        let watch = try await client.watch(
            Self.videoJobs, namespace: "default", resourceVersion: list.resourceVersion, timeoutSeconds: 1)
        for try await _ in watch {}
        #expect(
            try String(contentsOfFile: runs, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }
}

/// A thread-safe counter for closures.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() -> Int {
        count.withLock {
            $0 += 1; return $0
        }
    }
    var value: Int { count.withLock { $0 } }
}

extension KubeClientTests {
    func electLeaders(_ server: KubeAPIServer) async throws {
        let client = KubeClient(connection: try await KubeConfig.load(path: server.kubeconfig))
        func elector(_ identity: String) -> LeaderElector {
            LeaderElector(
                client: client,
                configuration: LeaderElectionConfiguration(
                    namespace: "default", name: "reel-operator", identity: identity, leaseDuration: .seconds(60),
                    renewDeadline: .seconds(4), retryPeriod: .milliseconds(300)))
        }
        let a = elector("a"), b = elector("b")
        let ledA = Counter(), ledB = Counter()
        let runA = Task {
            await a.run {
                _ = ledA.increment(); while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
            }
        }
        #expect(await BackgroundProcess.eventually(timeout: .seconds(30)) { a.isLeader })
        let runB = Task {
            await b.run {
                _ = ledB.increment(); while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)) }
            }
        }
        // B campaigns every 300 ms; for a few rounds it must not lead while A renews.
        try await Task.sleep(for: .seconds(1.5))
        #expect(!b.isLeader && ledB.value == 0)
        let lease = try await client.get(LeaderElector.leases, namespace: "default", name: "reel-operator")
        #expect(Self.field(lease, "spec", "holderIdentity") as? String == "a")

        // A stops gracefully and releases: B takes over long before the 60 s lease would run out. (Under the load
        // of the whole suite's first minutes a takeover has taken 12.6 s: the bound tells a release from an expiry,
        // not a fast machine from a slow one.)
        let released = ContinuousClock.now
        runA.cancel()
        await runA.value
        #expect(await BackgroundProcess.eventually(timeout: .seconds(40)) { b.isLeader })
        #expect(ContinuousClock.now - released < .seconds(40))
        // isLeader turns true just before B's work starts: wait for the work itself.
        #expect(await BackgroundProcess.eventually(timeout: .seconds(10)) { ledB.value == 1 })
        #expect(!a.isLeader)

        // Someone else takes the lease: B stops leading at its next renewal.
        var taken =
            try JSONSerialization.jsonObject(
                with: try await client.get(LeaderElector.leases, namespace: "default", name: "reel-operator"))
            as! [String: Any]
        var spec = taken["spec"] as! [String: Any]
        spec["holderIdentity"] = "intruder"
        spec["renewTime"] = MicroTime(Date()).description
        taken["spec"] = spec
        _ = try await client.replace(
            LeaderElector.leases, namespace: "default", name: "reel-operator",
            try JSONSerialization.data(withJSONObject: taken))
        #expect(await BackgroundProcess.eventually(timeout: .seconds(10)) { !b.isLeader })
        runB.cancel()
        await runB.value
    }
}

extension KubeClientTests {
    /// A new VideoJob named `name` to record Events about: a client, and the job's reference.
    func eventedJob(_ server: KubeAPIServer, _ name: String) async throws -> (KubeClient, ObjectReference) {
        let client = KubeClient(connection: try await KubeConfig.load(path: server.kubeconfig))
        let created = try await client.create(Self.videoJobs, namespace: "default", Self.job(name))
        let uid = try #require(Self.field(created, "metadata", "uid") as? String)
        return (
            client,
            ObjectReference(
                apiVersion: "reel.dev/v1alpha1", kind: "VideoJob", namespace: "default", name: name, uid: uid)
        )
    }

    func recordEvents(_ server: KubeAPIServer) async throws {
        let (client, reference) = try await eventedJob(server, "evented")
        let uid = reference.uid
        let recorder = EventRecorder(client: client, instance: "test-1")
        #expect(
            await recorder.record(reference, reason: "SourceStored", action: "Ingest", note: "the source is stored")
                == nil)
        #expect(
            await recorder.record(reference, reason: "SourceStored", action: "Ingest", note: "the source is stored")
                == nil)
        #expect(
            await recorder.record(
                reference, type: "Warning", reason: "InvalidMedia", action: "Analyze", note: "chunk 2 is damaged")
                == nil)
        let events = KubeResource(group: "events.k8s.io", version: "v1", plural: "events")
        let list = try await client.listAll(events, namespace: "default")
        let ours = list.items.filter { (Self.field($0, "regarding", "uid") as? String) == uid }
        let summary = ours.map {
            "\(Self.field($0, "type") as? String ?? "") \(Self.field($0, "reason") as? String ?? "") "
                + "\(Self.field($0, "series", "count") as? Int ?? 1)"
        }.sorted()
        #expect(
            summary == ["Normal SourceStored 2", "Warning InvalidMedia 1"], "a repeat joins the first event's series")
        #expect(ours.allSatisfy { Self.field($0, "reportingController") as? String == "reel.dev/operator" })
    }

    /// The recorder remembers a bounded number of Events, the least recently used forgotten first, and a repeat of
    /// an Event the server no longer has (expired) starts a new one instead of failing to patch it.
    func forgetEvents(_ server: KubeAPIServer) async throws {
        let (client, reference) = try await eventedJob(server, "forgetful")
        let uid = reference.uid
        let recorder = EventRecorder(client: client, instance: "test-2", capacity: 2)
        for reason in ["Alpha", "Beta", "Alpha", "Gamma", "Alpha", "Beta"] {
            #expect(await recorder.record(reference, reason: reason, action: "Test", note: reason) == nil)
            #expect(recorder.remembered <= 2)
        }
        let events = KubeResource(group: "events.k8s.io", version: "v1", plural: "events")
        func ours() async throws -> [Data] {
            try await client.listAll(events, namespace: "default").items.filter {
                (Self.field($0, "regarding", "uid") as? String) == uid
            }
        }
        func summary(_ items: [Data]) -> [String] {
            items.map {
                "\(Self.field($0, "reason") as? String ?? "") \(Self.field($0, "series", "count") as? Int ?? 1)"
            }
            .sorted()
        }
        // Gamma pushed out Beta (Alpha was used since); Beta came back as a new Event.
        #expect(try await summary(ours()) == ["Alpha 3", "Beta 1", "Beta 1", "Gamma 1"])

        let alpha = try #require(try await ours().first { Self.field($0, "reason") as? String == "Alpha" })
        let name = try #require(Self.field(alpha, "metadata", "name") as? String)
        try await client.delete(events, namespace: "default", name: name)
        #expect(await recorder.record(reference, reason: "Alpha", action: "Test", note: "Alpha") == nil)
        #expect(try await summary(ours()) == ["Alpha 1", "Beta 1", "Beta 1", "Gamma 1"])
    }
}
