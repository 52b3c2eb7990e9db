import ReelCore
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

/// The resources table's change feed: a reader asks for what changed since its last read, and misses nothing.
@Suite struct ResourceChangesTests {
    static func key(_ name: String) -> ResourceKey { ResourceKey(kind: "VideoJob", namespace: "default", name: name) }

    static func apply(_ table: ResourceTable, _ name: String, uri: String = "file:///a.mp4") async throws {
        try await table.apply(
            key(name), labels: nil, annotations: nil, spec: JSONDocument(text: "{\"source\":{\"uri\":\"\(uri)\"}}"),
            sourceFile: nil)
    }

    @Test func aReaderGetsWhatWasWrittenOrDeletedSinceItsLastRead() async throws {
        let pool = PostgresPool(url: try await TestPostgres.migratedDatabase("changes"), maxConnections: 2)
        let table = ResourceTable(pool: pool)
        for name in ["a", "b", "c"] { try await Self.apply(table, name) }
        try await table.apply(
            ResourceKey(kind: "WorkerPool", namespace: "default", name: "p"), labels: nil, annotations: nil,
            spec: .emptyObject, sourceFile: nil)

        let all = try await table.changes(kind: "VideoJob", since: nil)
        #expect(all.changed.map(\.key.name) == ["a", "b", "c"], "only the kind asked for")
        #expect(all.present == nil)

        // What changed since comes back, as it is now. (A row may come back unchanged while any transaction of
        // the server — other tests' too — that was open at the last read is still open: readers compare versions.)
        let b = try #require(try await table.get(Self.key("b")))
        #expect(try await table.updateStatus(uid: b.uid, status: JSONDocument(text: "{\"phase\":\"Pending\"}")))
        try await Self.apply(table, "d")
        let some = try await table.changes(kind: "VideoJob", since: all.cursor)
        let names = Set(some.changed.map(\.key.name))
        #expect(names.isSuperset(of: ["b", "d"]))
        #expect(some.changed.first { $0.key.name == "b" }?.status?.text.contains("Pending") == true)
        for unchanged in some.changed where !["b", "d"].contains(unchanged.key.name) {
            #expect(unchanged.resourceVersion == 1 && unchanged.status == nil, "\(unchanged.key) is as it was")
        }
        #expect(some.present == nil, "nothing was deleted")

        // A deletion is reported by what is left.
        #expect(try await table.requestDeletion(Self.key("c")))
        let after = try await table.changes(kind: "VideoJob", since: some.cursor)
        let d = try #require(some.changed.first { $0.key.name == "d" })
        #expect(after.present == Set([all.changed[0].uid, b.uid, d.uid]))
        #expect(after.cursor.deletions == some.cursor.deletions + 1)
        await pool.close()
    }

    @Test func aChangeCommittedAfterALaterOneIsNotSkipped() async throws {
        let url = try await TestPostgres.migratedDatabase("changes-order")
        let pool = PostgresPool(url: url, maxConnections: 2)
        let table = ResourceTable(pool: pool)
        for name in ["x", "y"] { try await Self.apply(table, name) }
        let start = try await table.changes(kind: "VideoJob", since: nil).cursor

        // x is changed in a transaction left open; y is changed and committed after it, without waiting for it.
        let open = try await PostgresConnection.connect(url)
        try await open.execute("BEGIN")
        try await open.query("UPDATE resources SET status = '{\"phase\":\"Pending\"}' WHERE name = 'x'")
        try await pool.query("UPDATE resources SET status = '{\"phase\":\"Pending\"}' WHERE name = 'y'")
        let meanwhile = try await table.changes(kind: "VideoJob", since: start)
        #expect(meanwhile.changed.first { $0.key.name == "y" }?.status != nil)
        #expect(meanwhile.changed.first { $0.key.name == "x" }?.status == nil, "x's change is not committed yet")

        try await open.execute("COMMIT")
        let later = try await table.changes(kind: "VideoJob", since: meanwhile.cursor)
        #expect(
            later.changed.first { $0.key.name == "x" }?.status?.text.contains("Pending") == true,
            "x committed after y was read: still found")
        await open.close()
        await pool.close()
    }
}
