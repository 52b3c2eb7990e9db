import Foundation
import ReelAPI
import ReelTestSupport
import Testing

@testable import ReelKube

/// The typed objects Reel sends to and reads from the API server, without a server.
@Suite struct KubeObjectTests {
    /// `metav1.MicroTime` is parsed by the API server with exactly six fractional digits.
    @Test func microTimeHasSixFractionalDigitsInUTC() throws {
        let date = Date(timeIntervalSince1970: 1_764_504_000.123456)
        #expect(MicroTime(date).description == "2025-11-30T12:00:00.123456Z")
        #expect(MicroTime(Date(timeIntervalSince1970: 0)).description == "1970-01-01T00:00:00.000000Z")
        let decoded = try JSONDecoder().decode(MicroTime.self, from: Data(#""2026-01-02T03:04:05.500000Z""#.utf8))
        #expect(decoded.date.timeIntervalSince1970 == 1_767_323_045.5)
    }

    /// A Lease read from the server goes back with what Reel does not model left as it was (labels, uid,
    /// resourceVersion: the replace is conditional on it).
    @Test func aLeaseRoundTripsItsMetadata() throws {
        let served = """
            {"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
             "metadata":{"name":"reel-operator","namespace":"reel","uid":"u-1","resourceVersion":"42",
                         "labels":{"team":"video"},"creationTimestamp":"2026-11-30T10:00:00Z"},
             "spec":{"holderIdentity":"a","leaseDurationSeconds":15,"renewTime":"2026-11-30T10:00:01.000000Z",
                     "leaseTransitions":3}}
            """
        var lease = try JSONDecoder().decode(Lease.self, from: Data(served.utf8))
        #expect(lease.spec.holderIdentity == "a" && lease.spec.leaseTransitions == 3)
        lease.spec.holderIdentity = "b"
        let sent = try JSONSerialization.jsonObject(with: try KubeClient.body(lease)) as? [String: Any]
        let metadata = sent?["metadata"] as? [String: Any]
        #expect(metadata?["resourceVersion"] as? String == "42")
        #expect(metadata?["uid"] as? String == "u-1")
        #expect((metadata?["labels"] as? [String: String]) == ["team": "video"])
        #expect((sent?["spec"] as? [String: Any])?["renewTime"] as? String == "2026-11-30T10:00:01.000000Z")
    }

    @Test func listsAndWatchLinesKeepEachObjectAsServed() throws {
        let list = try KubeClient.decodeList(
            Data(#"{"metadata":{"resourceVersion":"7","continue":""},"items":[{"metadata":{"name":"a"}}]}"#.utf8))
        #expect(list.resourceVersion == "7" && list.continueToken == nil && list.items.count == 1)
        // Item by item, in order, each without server-side apply's managedFields; no items, or null, is none.
        let page = try KubeClient.decodeList(
            Data(
                (#"{"metadata":{"continue":"next"},"items":[{"metadata":{"name":"a","managedFields":[{"manager":"m"}],"#
                    + #""labels":{"x":"y"}},"spec":{"n":[1,2.5,null,"s"]}},{"metadata":{"name":"b"}}]}"#).utf8))
        #expect(page.continueToken == "next" && page.items.count == 2)
        let first = try JSONSerialization.jsonObject(with: page.items[0]) as? [String: Any]
        let firstMetadata = first?["metadata"] as? [String: Any]
        #expect(firstMetadata?["managedFields"] == nil && firstMetadata?["labels"] as? [String: String] == ["x": "y"])
        #expect((first?["spec"] as? [String: Any])?["n"] as? [Any?] != nil)
        #expect(page.items.map(Informer.key) == ["/a", "/b"])
        for empty in [#"{"metadata":{}}"#, #"{"items":null}"#, #"{"items":[]}"#] {
            #expect(try KubeClient.decodeList(Data(empty.utf8)).items.isEmpty, "\(empty)")
        }
        #expect(throws: KubeError.self) { try KubeClient.decodeList(Data(#"{"items":{}}"#.utf8)) }
        let event = try KubeClient.watchEvent(
            Data(#"{"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"9"}}}"#.utf8))
        #expect(event.type == "MODIFIED" && event.resourceVersion == "9")
        #expect(Informer.key(event.object) == "/a")
        #expect(throws: KubeError.self) { try KubeClient.watchEvent(Data("[]".utf8)) }
    }
}

/// A candidate that cannot reach or may not write its Lease says so each round instead of waiting in silence.
@Suite struct LeaderElectorErrorTests {
    /// Awaits the reports themselves: polling for them within 20 s failed when the whole test process was starved
    /// for its first 20–26 s (2 cores, ~45 child processes at start); the time limit only stops a silent elector.
    @Test(.timeLimit(.minutes(1))) func failedRoundsAreReported() async throws {
        let (errors, reports) = AsyncStream.makeStream(of: String.self)
        let elector = LeaderElector(
            client: KubeClient(connection: KubeConnection(server: "https://127.0.0.1:1")),
            configuration: LeaderElectionConfiguration(
                namespace: "default", name: "reel-operator", identity: "a", retryPeriod: .milliseconds(50))
        ) { error in reports.yield("\(error)") }
        let campaign = Task { await elector.run {} }
        var reported = 0
        for await _ in errors {
            reported += 1
            if reported == 2 { break }
        }
        campaign.cancel()
        await campaign.value
        #expect(reported == 2, "no failed round was reported")
        #expect(!elector.isLeader)
    }
}
