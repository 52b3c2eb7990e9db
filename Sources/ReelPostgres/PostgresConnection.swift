import CPostgres
import ReelSupport
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One connection to Postgres. It owns its `PGconn*` and frees it in `deinit`; every libpq call runs in the
/// connection's own `SerialLane` on `BlockingExecutor.database`, never on Swift's cooperative threads nor on a
/// dispatch queue, and results come back through continuations. Statements run one at a time, in the order they
/// were asked for.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked Sendable: `handle` and `prepared` are read and written only by work in `lane`, which runs one
    // piece at a time (its lock orders each after the last), so no two threads touch the PGconn at once; every other
    // stored property is an immutable `let`.
    private var handle: OpaquePointer?
    /// Names of the statements prepared on this session, by SQL text (lane-confined like `handle`).
    private var prepared: [String: String] = [:]
    private let lane: SerialLane
    /// Statements kept prepared per session; past this, statements run unprepared.
    static let preparedLimit = 256
    /// The connection string or URL this connection was opened with.
    public let url: String

    private init(url: String, handle: OpaquePointer, lane: SerialLane) {
        self.url = url
        self.handle = handle
        self.lane = lane
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Opens a connection. `url` is a `postgres://` / `postgresql://` URL or a `key=value` connection string
    /// (libpq reads both); the session is set to UTC and ISO dates so values read back exactly.
    public static func connect(_ url: String) async throws -> PostgresConnection {
        let lane = SerialLane(on: .database)
        let opened = try await lane.run { () throws(PostgresError) -> OpenedHandle in
            OpenedHandle(pointer: try openHandle(url))
        }
        return PostgresConnection(url: url, handle: opened.pointer, lane: lane)
    }

    /// Carries a just-opened PGconn from the lane to the connection that will own it.
    // @unchecked Sendable: the pointer is handed over once and used by nobody in between.
    private struct OpenedHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static func openHandle(_ url: String) throws(PostgresError) -> OpaquePointer {
        guard let handle = PQconnectdb(url) else {
            throw PostgresError(.connectionFailed, "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
            PQfinish(handle)
            throw PostgresError(.connectionFailed, message)
        }
        // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        // No JIT: Reel's statements are short, and a prepared statement's generic plan, costed for a large table
        // (300,000 tasks), crossed `jit_above_cost` and spent 8 ms compiling a claim that runs in 0.2 ms.
        let setup = PQexec(
            handle, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; SET jit = off")
        defer { PQclear(setup) }
        guard PQresultStatus(setup) == PGRES_COMMAND_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
            PQfinish(handle)
            throw PostgresError(.connectionFailed, message)
        }
        return handle
    }

    /// Runs `work` with the live handle in the connection's lane.
    func withHandle<T: Sendable>(
        _ work: @escaping @Sendable (OpaquePointer) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        try await lane.run { [self] () throws(PostgresError) -> T in
            guard let handle else { throw PostgresError(.connectionLost, "the connection is closed") }
            return try work(handle)
        }
    }

    /// Whether libpq still thinks the connection is usable (it learns otherwise only when a call fails).
    public var isHealthy: Bool {
        get async {
            (try? await withHandle { handle in PQstatus(handle) == CONNECTION_OK }) ?? false
        }
    }

    /// The server's process id for this connection (what `pg_terminate_backend` takes).
    public func backendPID() async throws(PostgresError) -> Int32 {
        try await withHandle { handle in PQbackendPID(handle) }
    }

    /// Runs one statement with bound parameters (`$1`, `$2`, … in `sql`; `nil` is SQL NULL) and returns its rows.
    /// Values never become part of the SQL text. The statement is prepared on first use and reused by this
    /// session, so repeated statements are planned once.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws(PostgresError)
        -> PostgresRows
    {
        let texts = parameters.map { $0?.postgresText }
        return try await withHandle { [self] handle throws(PostgresError) in
            try executePrepared(handle, sql, texts)
        }
    }

    /// Prepares `sql` once per session (in the lane), then executes it.
    private func executePrepared(_ handle: OpaquePointer, _ sql: String, _ texts: [String?]) throws(PostgresError)
        -> PostgresRows
    {
        var name = prepared[sql]
        if name == nil, prepared.count < Self.preparedLimit {
            let candidate = "reel_\(prepared.count + 1)"
            let result = PQprepare(handle, candidate, sql, Int32(texts.count), nil)
            defer { PQclear(result) }
            try Self.check(result, handle, sql)
            prepared[sql] = candidate
            name = candidate
        }
        guard let name else { return try Self.execute(handle, sql, texts) }
        return try Self.withCStrings(texts) { values throws(PostgresError) in
            let result = PQexecPrepared(handle, name, Int32(texts.count), values, nil, nil, 0)
            defer { PQclear(result) }
            try Self.check(result, handle, sql)
            return PostgresRows(result!)
        }
    }

    /// Calls `body` with the texts as NUL-terminated C strings (NULL for nil) that live through the call.
    private static func withCStrings<T>(
        _ texts: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        let cStrings: [UnsafeMutablePointer<CChar>?] = texts.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let result: Result<T, PostgresError> = cStrings.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                do throws(PostgresError) { return .success(try body(values.baseAddress)) } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, `BEGIN`).
    public func execute(_ sql: String) async throws(PostgresError) {
        try await withHandle { handle throws(PostgresError) in
            let result = PQexec(handle, sql)
            defer { PQclear(result) }
            try Self.check(result, handle, sql)
        }
    }

    static func execute(_ handle: OpaquePointer, _ sql: String, _ texts: [String?]) throws(PostgresError)
        -> PostgresRows
    {
        try withCStrings(texts) { values throws(PostgresError) in
            let result = PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
            defer { PQclear(result) }
            try check(result, handle, sql)
            return PostgresRows(result!)
        }
    }

    static func check(_ result: OpaquePointer?, _ handle: OpaquePointer, _ sql: String) throws(PostgresError) {
        guard let result else {
            let message = String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
            throw PostgresError(
                PQstatus(handle) == CONNECTION_BAD ? .connectionLost : .server, message, query: sql)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: return
        default: throw PostgresError.from(result: result, connection: handle, query: sql)
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await execute("BEGIN")
        do {
            let value = try await body(self)
            try await execute("COMMIT")
            return value
        } catch {
            try? await execute("ROLLBACK")
            throw error
        }
    }

    /// Closes the connection; later calls fail with `connectionLost`.
    public func close() async {
        await lane.run { [self] in
            if let handle { PQfinish(handle) }
            handle = nil
            prepared.removeAll()
        }
    }

    /// Drops the broken session and connects again with the same URL.
    public func reconnect() async throws(PostgresError) {
        let url = self.url
        try await lane.run { [self] () throws(PostgresError) in
            if let handle { PQfinish(handle) }
            handle = nil
            prepared.removeAll()
            handle = try Self.openHandle(url)
        }
    }
}

extension PostgresConnection {
    /// libpq's version, `MAJOR.MINOR`.
    public static var libraryVersion: String {
        let version = PQlibVersion()
        return "\(version / 10000).\(version % 10000)"
    }
}
