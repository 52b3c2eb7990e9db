import ReelCore
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

/// The resources table's clock: a reader asks for what changed after the revision it saw, and misses nothing.
@Suite struct ResourceChangesTests {
    static func key(_ name: String) -> ResourceKey { ResourceKey(kind: "VideoJob", namespace: "default", name: name) }

    static func apply(_ table: ResourceTable, _ name: String, uri: String = "file:///a.mp4") async throws {
        try await table.apply(
            key(name), labels: nil, annotations: nil, spec: JSONDocument(text: "{\"source\":{\"uri\":\"\(uri)\"}}"),
            sourceFile: nil)
    }

    @Test func aReaderGetsExactlyWhatWasWrittenOrDeletedSinceItsClock() async throws {
        let pool = PostgresPool(url: try await TestPostgres.migratedDatabase("changes"), maxConnections: 2)
        let table = ResourceTable(pool: pool)
        for name in ["a", "b", "c"] { try await Self.apply(table, name) }
        try await table.apply(
            ResourceKey(kind: "WorkerPool", namespace: "default", name: "p"), labels: nil, annotations: nil,
            spec: .emptyObject, sourceFile: nil)

        let all = try await table.changes(kind: "VideoJob", since: nil)
        #expect(all.changed.map(\.key.name) == ["a", "b", "c"], "only the kind asked for")
        #expect(all.present == nil)
        #expect(try await table.clock() == all.clock)
        let none = try await table.changes(kind: "VideoJob", since: all.clock)
        #expect(none.changed.isEmpty && none.clock == all.clock)

        let b = try #require(try await table.get(Self.key("b")))
        #expect(try await table.updateStatus(uid: b.uid, status: JSONDocument(text: "{\"phase\":\"Pending\"}")))
        try await Self.apply(table, "d")
        let some = try await table.changes(kind: "VideoJob", since: all.clock)
        #expect(some.changed.map(\.key.name) == ["b", "d"])
        #expect(some.changed.first?.status?.text.contains("Pending") == true)
        #expect(some.present == nil, "nothing was deleted")

        // An unchanged apply writes nothing the reader must see again; a deletion is reported by what is left.
        try await Self.apply(table, "a")
        #expect(try await table.requestDeletion(Self.key("c")))
        let after = try await table.changes(kind: "VideoJob", since: some.clock)
        #expect(after.present == Set([all.changed[0].uid, b.uid, some.changed[1].uid]))
        #expect(after.clock.deletions == some.clock.deletions + 1)
        await pool.close()
    }

    @Test func revisionsFollowCommitOrderSoAnOpenTransactionIsNotSkipped() async throws {
        let url = try await TestPostgres.migratedDatabase("changes-order")
        let pool = PostgresPool(url: url, maxConnections: 2)
        let table = ResourceTable(pool: pool)
        for name in ["x", "y"] { try await Self.apply(table, name) }
        let start = try await table.clock()

        // x is changed in a transaction left open; y's writer must wait for its revision until x's commits.
        let first = try await PostgresConnection.connect(url)
        let second = try await PostgresConnection.connect(url)
        try await first.execute("BEGIN")
        try await first.query("UPDATE resources SET status = '{\"phase\":\"Pending\"}' WHERE name = 'x'")
        let pid = try await second.query("SELECT pg_backend_pid()").first!.decode(Int.self, at: 0)
        let writer = Task {
            try await second.query("UPDATE resources SET status = '{\"phase\":\"Pending\"}' WHERE name = 'y'")
        }
        let waits = try await BackgroundProcess.eventually {
            try await pool.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [pid])
                .first?.decodeIfPresent(String.self, at: 0) == "Lock"
        }
        #expect(waits, "y's writer waits for x's transaction")
        let meanwhile = try await table.changes(kind: "VideoJob", since: start)
        #expect(meanwhile.changed.isEmpty && meanwhile.clock == start, "neither change is committed")

        try await first.execute("COMMIT")
        _ = try await writer.value
        let later = try await table.changes(kind: "VideoJob", since: start)
        #expect(later.changed.map(\.key.name) == ["x", "y"])
        let revisions = try await pool.query("SELECT name, revision FROM resources ORDER BY name").map {
            (try $0.decode(String.self, at: 0), try $0.decode(Int64.self, at: 1))
        }
        #expect(revisions.map(\.0) == ["x", "y"] && revisions[0].1 < revisions[1].1)
        await first.close()
        await second.close()
        await pool.close()
    }
}
