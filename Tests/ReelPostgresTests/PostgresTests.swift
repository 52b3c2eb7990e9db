import Foundation
import ReelPostgres
import ReelTestSupport
import Testing
import ReelSupport

@Suite("libpq connection, values, errors, transactions")
struct ConnectionTests {
    @Test func valuesRoundTripThroughBoundParameters() async throws {
        let connection = try await PostgresConnection.connect(try await TestPostgres.database("values"))
        let date = Date(timeIntervalSince1970: 1_800_000_000.123456)
        let uuid = UUID()
        let bytes = Data([0, 1, 2, 0xfe, 0xff])
        let row = try #require(
            try await connection.query(
                """
                SELECT $1::text, $2::integer, $3::bigint, $4::double precision, $5::boolean, $6::timestamptz,
                       $7::uuid, $8::jsonb, $9::bytea, $10::text[], $11::bigint[], $12::text, $13::text
                """,
                [
                    "it's \"quoted\" \\ ünïcode 🎬", Int32(-42), Int64.max, 0.1, true, date, uuid,
                    JSONDocument(text: #"{"b": [1, 2], "a": null}"#), bytes, ["a", "b c", "d\"e", "f\\g", ""],
                    [Int64(1), -2, 3], nil, "'; DROP TABLE x; --",
                ]
            ).first)
        #expect(try row.decode(String.self, at: 0) == "it's \"quoted\" \\ ünïcode 🎬")
        #expect(try row.decode(Int32.self, at: 1) == -42)
        #expect(try row.decode(Int64.self, at: 2) == Int64.max)
        #expect(try row.decode(Double.self, at: 3) == 0.1)
        #expect(try row.decode(Bool.self, at: 4))
        #expect(abs(try row.decode(Date.self, at: 5).timeIntervalSince(date)) < 0.000_001)
        #expect(try row.decode(UUID.self, at: 6) == uuid)
        #expect(try row.decode(JSONDocument.self, at: 7).text == #"{"a": null, "b": [1, 2]}"#)
        #expect(try row.decode(Data.self, at: 8) == bytes)
        #expect(try row.decode([String].self, at: 9) == ["a", "b c", "d\"e", "f\\g", ""])
        #expect(try row.decode([Int64].self, at: 10) == [1, -2, 3])
        #expect(try row.decodeIfPresent(String.self, at: 11) == nil)
        #expect(try row.decode(String.self, at: 12) == "'; DROP TABLE x; --")
        #expect(throws: PostgresError.self) { try row.decode(String.self, at: 11) }
        await connection.close()
    }

    @Test func timestampsAcrossOffsetsAndCenturies() async throws {
        let connection = try await PostgresConnection.connect(try await TestPostgres.database("time"))
        for seconds in [0.0, -86_400.5, 951_782_400, 4_102_444_800.999999, 1_709_208_000] {
            let date = Date(timeIntervalSince1970: seconds)
            let back = try #require(try await connection.query("SELECT $1::timestamptz", [date]).first).decode(
                Date.self, at: 0)
            #expect(abs(back.timeIntervalSince(date)) < 0.000_002, "\(seconds)")
        }
        let offset = try #require(
            try await connection.query("SELECT '2026-11-29 12:30:00+02:30'::timestamptz::text").first)
        #expect(try offset.decode(String.self, at: 0) == "2026-11-29 10:00:00+00")
        let parsed = try Date(postgresText: "2026-11-29 12:30:00.5+02:30")
        #expect(parsed.timeIntervalSince1970 == 1_795_946_400.5)  // 2026-11-29T10:00:00.5Z
        await connection.close()
    }

    @Test func serverErrorsCarrySQLStateAndCodes() async throws {
        let connection = try await PostgresConnection.connect(try await TestPostgres.database("errors"))
        let syntax = await #expect(throws: PostgresError.self) { try await connection.query("SELEC 1") }
        #expect(syntax?.sqlState == "42601")
        #expect(syntax?.code == .syntaxOrAccess)
        #expect(syntax?.query == "SELEC 1")
        let missing = await #expect(throws: PostgresError.self) { try await connection.query("SELECT * FROM nowhere") }
        #expect(missing?.sqlState == "42P01")

        try await connection.execute("CREATE TABLE t (id integer PRIMARY KEY, v text CHECK (v <> ''))")
        try await connection.query("INSERT INTO t VALUES ($1, $2)", [1, "a"])
        let duplicate = await #expect(throws: PostgresError.self) {
            try await connection.query("INSERT INTO t VALUES ($1, $2)", [1, "b"])
        }
        #expect(duplicate?.code == .uniqueViolation)
        #expect(duplicate?.sqlState == "23505")
        #expect(duplicate?.detail == "Key (id)=(1) already exists.")
        let check = await #expect(throws: PostgresError.self) {
            try await connection.query("INSERT INTO t VALUES ($1, $2)", [2, ""])
        }
        #expect(check?.code == .constraintViolation)
        let hint = await #expect(throws: PostgresError.self) { try await connection.query("SELECT lenght('x')") }
        #expect(hint?.hint?.contains("No function matches") == true)
        // The connection is still usable after errors.
        #expect(try await connection.query("SELECT count(*) FROM t").first?.decode(Int.self, at: 0) == 1)
        await connection.close()
    }

    @Test func transactionsCommitOrRollBack() async throws {
        let connection = try await PostgresConnection.connect(try await TestPostgres.database("tx"))
        try await connection.execute("CREATE TABLE t (v integer)")
        try await connection.transaction { try await $0.query("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await connection.transaction { connection in
                try await connection.query("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        await #expect(throws: PostgresError.self) {
            try await connection.transaction { connection in
                try await connection.query("INSERT INTO t VALUES (3)")
                try await connection.query("INSERT INTO t VALUES ('x')")
            }
        }
        let values = try await connection.query("SELECT v FROM t ORDER BY v").map { try $0.decode(Int.self, at: 0) }
        #expect(values == [1])
        await connection.close()
    }

    @Test func badConnectionStringsFailClearly() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect("host=/nonexistent/socket/dir user=postgres connect_timeout=2")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("/nonexistent/socket/dir") == true)
    }
}

@Suite("Connection pool and LISTEN/NOTIFY")
struct PoolAndListenTests {
    /// Terminates the backend of every pooled connection but the caller's.
    private func terminateOthers(_ url: String) async throws {
        let admin = try await PostgresConnection.connect(url)
        try await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid "
                + "<> pg_backend_pid()"
        )
        await admin.close()
    }

    @Test func terminatedPooledConnectionReconnectsOnNextQuery() async throws {
        let url = try await TestPostgres.database("pool")
        let pool = PostgresPool(url: url, maxConnections: 2)
        let before = try await pool.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        try await terminateOthers(url)
        let after = try await pool.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        #expect(after != before)
        #expect(await pool.openConnections == 1)
        await pool.close()
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
    }

    @Test func poolBoundsConnectionsAndQueuesCallers() async throws {
        let url = try await TestPostgres.database("bound")
        let pool = PostgresPool(url: url, maxConnections: 3)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try await connection.query("SELECT pg_sleep(0.01)")
                        return try await connection.backendPID()
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count <= 3)
        #expect(await pool.openConnections <= 3)
        await pool.close()
    }

    @Test func listenDeliversNotificationsAndResumesAfterTermination() async throws {
        let url = try await TestPostgres.database("listen")
        let listener = try PostgresListener(url: url, channels: ["reel_test", "other"])
        let events = TimedEvents(listener.events, limit: .seconds(30))
        #expect(try await events.next() == .listening(reconnected: false))

        let sender = try await PostgresConnection.connect(url)
        try await sender.query("SELECT pg_notify('reel_test', $1)", ["hello"])
        guard case .notification(let first)? = try await events.next() else {
            Issue.record("no notification")
            return
        }
        #expect(first.channel == "reel_test")
        #expect(first.payload == "hello")
        #expect(first.senderPID == (try await sender.backendPID()))

        // Kill the listener's session: it reconnects, listens again, and later notifications arrive.
        try await sender.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid "
                + "<> pg_backend_pid()"
        )
        #expect(try await events.next() == .listening(reconnected: true))
        try await sender.query("SELECT pg_notify('other', 'again')")
        guard case .notification(let second)? = try await events.next() else {
            Issue.record("no notification after reconnect")
            return
        }
        #expect(second.channel == "other" && second.payload == "again")
        listener.stop()
        #expect(try await events.next() == nil)
        await sender.close()
    }

    @Test func channelNamesMustBeIdentifiers() {
        #expect(throws: PostgresError.self) { try PostgresListener(url: "", channels: ["bad; DROP"]) }
    }
}
