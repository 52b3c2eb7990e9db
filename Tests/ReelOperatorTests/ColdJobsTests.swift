import Foundation
import Logging
import ReelAPI
import ReelCore
import ReelKube
import ReelSupport
import ReelTestSupport
import Synchronization
import Testing

@testable import ReelOperator

/// Against a real kube-apiserver: a settled VideoJob that nothing reads goes cold (the backend keeps its
/// resourceVersion only) and is read from the API server when asked for; what its deletion needs is kept.
@Suite(.disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct ColdJobsTests {
    /// Valid for Reel until the provider becomes `local` (an `apiKeySecretRef` is for gemini only).
    static let object =
        #"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","#
        + #""metadata":{"name":"a","finalizers":["reel.dev/test"]},"spec":{"source":{"uri":"file:///a.mp4"},"#
        + #""suspend":true,"analysis":{"provider":"gemini","apiKeySecretRef":{"name":"k","key":"apiKey"}}}}"#

    @Test func aSettledJobGoesColdAndIsReadAgainFromTheAPIServer() async throws {
        try await withKubeClient(coldJob)
    }

    func coldJob(_ client: KubeClient) async throws {
        let created = try await client.create(.videoJobs, namespace: "default", Data(Self.object.utf8))
        // No informer runs: the cache holds what this test and the backend's own writes put there. The spec the job
        // was processed with comes from here (Postgres's `JobStore.lastSpec` in the operator).
        let processed = Mutex<JSONDocument?>(nil)
        let backend = KubernetesBackend(
            client: client, namespace: "default", events: nil, logger: Logger(label: "t"),
            lastSpec: { _ in processed.withLock { $0 } }
        ) { _ in }
        let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "a")
        backend.remember(created, key: key)
        let stored = try #require(try await backend.get(key))
        processed.withLock { $0 = stored.spec }
        #expect(backend.compactSettled() == 0, "not settled yet")
        #expect(
            try await backend.updateStatus(stored, status: .videoJob(.init(observedGeneration: 1, phase: .Suspended))))

        #expect(backend.compactSettled() == 0, "read since the last pass: it stays")
        #expect(backend.compactSettled(except: [key]) == 0, "queued for a reconcile: it stays")
        #expect(backend.compactSettled() == 1, "untouched for a whole pass: it goes cold")
        #expect(backend.state.withLock { ($0.parsed[key] == nil, $0.cold[key] != nil) } == (true, true))
        #expect(try await backend.unsettledKeys(kind: "VideoJob").isEmpty, "a cold job is settled")

        let listed = try await backend.list(kind: "VideoJob")
        #expect(listed.map(\.key) == [key])
        #expect(try listed.first?.videoJob().status?.phase == .Suspended)
        #expect(backend.state.withLock { $0.cold[key] != nil }, "a list reads cold jobs without caching them")

        let read = try #require(try await backend.get(key))
        #expect(read.spec == stored.spec && read.uid == stored.uid)
        #expect(try read.videoJob().status?.phase == .Suspended)
        #expect(backend.state.withLock { ($0.parsed[key] != nil, $0.cold[key] == nil) } == (true, true))

        backend.compactSettled()
        #expect(backend.compactSettled() == 1)
        let sameVersion = try await client.get(.videoJobs, namespace: "default", name: "a")
        #expect(backend.isCold(key, sameVersion), "a relist's copy of a cold job leaves it cold")

        // Edited into a spec Reel refuses, then deleted: the spec it was processed with stands in, so the
        // finalizer's cleanup runs with it.
        let edited = try await client.mergePatch(
            .videoJobs, namespace: "default", name: "a", Data(#"{"spec":{"analysis":{"provider":"local"}}}"#.utf8))
        #expect(!backend.isCold(key, edited))
        #expect(backend.parse(edited, key: key)?.problems.isEmpty == false)
        #expect(try await backend.get(key) == nil, "invalid and not being deleted")
        try await client.delete(.videoJobs, namespace: "default", name: "a")
        let deleting = try await client.get(.videoJobs, namespace: "default", name: "a")
        backend.parse(deleting, key: key)
        let fallback = try #require(try await backend.get(key))
        #expect(fallback.deletionTimestamp != nil && fallback.spec == stored.spec)
        // Never processed (no spec in Postgres): it left nothing to clean up, and its own spec, which still reads
        // as a VideoJob spec, does for the finalizer.
        processed.withLock { $0 = nil }
        let own = try #require(try await backend.get(key))
        #expect(own.deletionTimestamp != nil && own.spec != stored.spec)
        #expect(try own.videoJob().spec.analysis.provider == .local)
    }
}

/// Against a real kube-apiserver: which watch events wake the reconciler.
@Suite(.disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct OwnWriteEventTests {
    @Test func theEventOfTheBackendsOwnFinalizerPatchWakesNobodyAndOthersChangesDo() async throws {
        try await withKubeClient(events)
    }

    func events(_ client: KubeClient) async throws {
        let object =
            #"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","metadata":{"name":"f"},"#
            + #""spec":{"source":{"uri":"file:///a.mp4"},"suspend":true}}"#
        let created = try await client.create(.videoJobs, namespace: "default", Data(object.utf8))
        let backend = KubernetesBackend(client: client, namespace: "default", events: nil, logger: Logger(label: "t")) {
            _ in
        }
        let key = ResourceKey(kind: "VideoJob", namespace: "default", name: "f")
        // As the informer would hand them on: the object as listed, then each change.
        func event(_ object: Data) async {
            await backend.handle(.upsert(key: "default/f", object: object), kind: key.kind)
        }
        backend.remember(created, key: key)
        await event(created)
        #expect(backend.wakeups == 1)

        try await backend.addFinalizer(try #require(try await backend.get(key)), API.cleanupFinalizer)
        await event(try await client.get(.videoJobs, namespace: "default", name: "f"))
        #expect(backend.wakeups == 1, "the event of the backend's own finalizer patch")

        let labeled = try await client.mergePatch(
            .videoJobs, namespace: "default", name: "f", Data(#"{"metadata":{"labels":{"team":"a"}}}"#.utf8))
        await event(labeled)
        #expect(backend.wakeups == 2, "a label set by someone else")
        let unfinalized = try await client.mergePatch(
            .videoJobs, namespace: "default", name: "f", Data(#"{"metadata":{"finalizers":null}}"#.utf8))
        await event(unfinalized)
        #expect(backend.wakeups == 3, "the finalizer removed by someone else")
    }
}

/// Runs `body` with a client of a fresh kube-apiserver, stopped however `body` ends.
func withKubeClient(_ body: (KubeClient) async throws -> Void) async throws {
    let server = try await KubeAPIServer()
    do {
        try await body(KubeClient(connection: try await KubeConfig.load(path: server.kubeconfig)))
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}
