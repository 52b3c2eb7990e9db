import Foundation
import Logging
import ReelAPI
import ReelCore
import ReelKube
import ReelTestSupport
import Testing

@testable import ReelOperator

/// Which VideoJobs the periodic resync may leave alone, as the Kubernetes backend reads them from its cache.
@Suite struct SettledTests {
    static func object(generation: Int, status: String?, deleting: Bool = false) throws -> KubeObject {
        let deletion = deleting ? ", \"deletionTimestamp\": \"2026-12-01T10:00:00Z\"" : ""
        let json = """
            {"apiVersion": "reel.dev/v1alpha1", "kind": "VideoJob",
             "metadata": {"name": "a", "namespace": "default", "generation": \(generation)\(deletion)},
             "spec": {"source": {"uri": "file:///a.mp4"}}\(status.map { ", \"status\": \($0)" } ?? "")}
            """
        return try JSONDecoder().decode(KubeObject.self, from: Data(json.utf8))
    }

    @Test func onlyAFinishedOrSuspendedStatusOfTheCurrentGenerationSettlesAJob() throws {
        let settled = [
            (1, #"{"observedGeneration": 1, "phase": "Succeeded"}"#),
            (3, #"{"observedGeneration": 3, "phase": "Failed"}"#),
            (2, #"{"observedGeneration": 2, "phase": "Suspended"}"#),
            (1, #"{"observedGeneration": 1, "phase": "Expired"}"#),
        ]
        for (generation, status) in settled {
            #expect(KubernetesBackend.isSettled(try Self.object(generation: generation, status: status)), "\(status)")
        }
        let unsettled: [(Int, String?, Bool)] = [
            (1, nil, false), (1, #"{"observedGeneration": 1, "phase": "Analyzing"}"#, false),
            (2, #"{"observedGeneration": 1, "phase": "Succeeded"}"#, false),
            (1, #"{"phase": "Succeeded"}"#, false), (1, #"{"observedGeneration": 1, "phase": "Succeeded"}"#, true),
        ]
        for (generation, status, deleting) in unsettled {
            let object = try Self.object(generation: generation, status: status, deleting: deleting)
            #expect(!KubernetesBackend.isSettled(object), "\(status ?? "no status") deleting: \(deleting)")
        }
    }
}

/// Against a real kube-apiserver: a job its own status write settles is settled at once, without its watch event.
@Suite(.disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct SettledByOwnWriteTests {
    @Test func aStatusWriteThatSettlesAJobTakesItOutOfThePeriodicResyncBeforeItsWatchEvent() async throws {
        try await withKubeClient { client in
            let object = try await client.create(
                .videoJobs, namespace: "default",
                Data(
                    (#"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","metadata":{"name":"a"},"#
                        + #""spec":{"source":{"uri":"file:///a.mp4"},"suspend":true}}"#).utf8))
            // No informer runs: the cache holds only what this test and the backend's own writes put there.
            let backend = KubernetesBackend(
                client: client, namespace: "default", events: nil, logger: Logger(label: "test")
            ) { _ in }
            let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "a")
            backend.remember(object, key: key)
            #expect(try await backend.unsettledKeys(kind: "VideoJob") == [key])
            let stored = try #require(try await backend.get(key))
            let status = VideoJobStatus(observedGeneration: 1, phase: .Suspended)
            #expect(try await backend.updateStatus(stored, status: .videoJob(status)))
            #expect(try await backend.unsettledKeys(kind: "VideoJob").isEmpty)
        }
    }
}

/// The reconciler's queue hands keys out first in, first out, however many wait.
@Suite struct WorkQueueOrderTests {
    @Test func tenThousandKeysComeOutInOrderWhileMoreAreAdded() async throws {
        let queue = WorkQueue<Int>()
        await queue.add(0..<10_000)
        var taken: [Int] = []
        for _ in 0..<6_000 { taken.append(try #require(await queue.next())) }
        await queue.add(10_000..<12_000)
        #expect(await queue.depth == 6_000)
        while await queue.depth > 0 { taken.append(try #require(await queue.next())) }
        #expect(taken == Array(0..<12_000))
        for key in taken { await queue.done(key) }
        await queue.add(5)
        #expect(await queue.next() == 5, "a key done is queued again when added")
    }

    /// The reconciler's timer sleeps until the instant `promoteDue` returns, and is woken only by a key delayed to
    /// an earlier instant (it ticked every 100 ms, waking an idle operator ten times a second).
    @Test func delayedKeysWakeTheTimerOnlyWhenTheyAreDueFirst() async throws {
        let queue = WorkQueue<Int>()
        let now = ContinuousClock.now
        let signal = queue.delayedChanged
        await queue.add(1, at: now + .seconds(10))
        #expect(signal.generation == 1)
        await queue.add(2, at: now + .seconds(20))
        await queue.add(1, at: now + .seconds(30))
        #expect(signal.generation == 1, "a later instant does not wake the timer")
        await queue.add(3, at: now + .seconds(5))
        #expect(signal.generation == 2)
        #expect(await queue.promoteDue(now: now + .seconds(6)) == now + .seconds(10))
        #expect(await queue.depth == 1)
        #expect(await queue.next() == 3)
        await queue.add(4, at: now + .seconds(8))
        #expect(signal.generation == 3, "earlier than the next due key")
        #expect(await queue.promoteDue(now: now + .seconds(25)) == nil)
        #expect(await queue.depth == 3)
    }
}

/// The backend's cache keeps the newest version of an object, whatever order the versions are parsed in.
@Suite struct ParseOrderTests {
    static func object(version: Int, suspend: Bool) -> Data {
        Data(
            (#"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","metadata":{"name":"a","namespace":"default","#
                + #""uid":"u","generation":\#(version),"resourceVersion":"\#(version)"},"#
                + #""spec":{"source":{"uri":"file:///a.mp4"},"suspend":\#(suspend)}}"#).utf8)
    }

    /// A cold job's read from the API server, or a write's answer, can come back after the watch event of a later
    /// version: parsed last, it replaced the later version, and a spec edited meanwhile went unseen.
    @Test func anOlderVersionParsedAfterANewerOneLeavesTheNewerCached() throws {
        let client = KubeClient(connection: KubeConnection(server: "https://127.0.0.1:1"))
        let backend = KubernetesBackend(client: client, namespace: "default", events: nil, logger: Logger(label: "t")) {
            _ in
        }
        let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "a")
        backend.parse(Self.object(version: 6, suspend: false), key: key)
        let kept = backend.parse(Self.object(version: 5, suspend: true), key: key)
        #expect(kept?.resourceVersion == "6")
        let cached = try #require(backend.state.withLock { $0.parsed[key]?.resource })
        let suspended = try cached.videoJob().spec.suspend
        #expect(cached.generation == 6 && suspended == false)
        backend.parse(Self.object(version: 7, suspend: true), key: key)
        #expect(backend.state.withLock { $0.parsed[key]?.resourceVersion } == "7")
    }
}
