import FoundationEssentials
import ReelAPI
import ReelCore
import ReelPostgres
import ReelSupport

/// The HTTP API's database: connections that take the `reel_api` role (no `BYPASSRLS`, owner of nothing), so
/// row-level security confines every statement to the tenant its transaction names. Operator and workers keep
/// the service role (`Database`).
public struct APIDatabase: Sendable {
    let pool: PostgresPool
    public let url: String

    /// A pool of at most `maxConnections` connections to `url`, each taking the API role when it opens; every
    /// statement may run at most `statementTimeout` (a request then fails with a 504 instead of hanging).
    public init(url: String, maxConnections: Int, statementTimeout: Duration = .seconds(15)) {
        self.url = url
        self.pool = PostgresPool(
            url: Self.withSessionOptions(url, role: APISchema.role, statementTimeout: statementTimeout),
            maxConnections: maxConnections)
    }

    /// `url` with the libpq options that make the session take `role` and bound its statements (URI or key=value).
    static func withSessionOptions(_ url: String, role: String, statementTimeout: Duration) -> String {
        let milliseconds = max(1, Int(statementTimeout.seconds * 1000))
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return url + (url.contains("?") ? "&" : "?")
                + "options=-c%20role%3D\(role)%20-c%20statement_timeout%3D\(milliseconds)"
        }
        return url + " options='-c role=\(role) -c statement_timeout=\(milliseconds)'"
    }

    /// Makes sure the API role exists, the service user may take it, and it has its grants (run at every API
    /// start, with the service role's `url`); throws `APIRoleError` saying what a DBA must do when it cannot.
    public static func prepareRole(serviceURL url: String) async throws {
        let connection = try await PostgresConnection.connect(url)
        defer { Task { await connection.close() } }
        let problem: String = try await connection.query("SELECT reel_prepare_api_role()").first!.decode(at: 0)
        guard problem.isEmpty else {
            throw APIRoleError(
                description: "the REST API needs the database role \(APISchema.role) and \(problem): ask a database "
                    + "administrator to run CREATE ROLE \(APISchema.role) NOLOGIN; GRANT \(APISchema.role) TO "
                    + "<this user>; then start again")
        }
    }

    /// Token lookups (the API role may read tokens and note their use, nothing else).
    public var tokens: TokenStore { TokenStore(pool: pool) }

    /// The data of one tenant.
    public func tenant(_ namespace: String) -> TenantStore { TenantStore(pool: pool, namespace: namespace) }

    public func close() async { await pool.close() }

    /// `LISTEN` on `channels` on a connection of its own (`EventLog.channel` for the event feed).
    public func listen(_ channels: [String]) throws -> ChangeFeed {
        try Database(pool: pool, url: url).listen(channels)
    }
}

/// One tenant's rows: every call is a transaction that sets `reel.tenant`, under which the policies show only
/// this namespace's resources, jobs, chunks, tasks, log lines, events and audit entries.
public struct TenantStore: Sendable {
    let pool: PostgresPool
    public let namespace: String

    /// Runs `body` in a transaction confined to the tenant. The transaction starts and names its tenant in one
    /// round trip (a namespace is a DNS label; anything else is refused before it reaches SQL).
    func run<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        guard Self.isNamespace(namespace) else {
            throw TokenError(description: "\"\(namespace.prefix(64))\" is not a namespace")
        }
        return try await pool.withConnection { connection in
            try await connection.execute("BEGIN; SELECT set_config('reel.tenant', '\(namespace)', true)")
            do {
                let value = try await body(connection)
                try await connection.execute("COMMIT")
                return value
            } catch {
                try? await connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A DNS-1123 label: lowercase letters, digits and `-`, at most 63, starting and ending alphanumeric (empty: no
    /// tenant, which sees nothing).
    static func isNamespace(_ text: String) -> Bool {
        if text.isEmpty { return true }
        let bytes = Array(text.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool { (97...122).contains(byte) || (48...57).contains(byte) }
        return bytes.count <= 63 && alphanumeric(bytes.first!) && alphanumeric(bytes.last!)
            && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// Runs one statement confined to the tenant.
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> PostgresRows {
        try await run { try await $0.query(sql, parameters) }
    }

    /// The tenant's audit entries after `after`, oldest first.
    public func audit(after: Int64, limit: Int) async throws -> [AuditEntry] {
        try await query(
            "SELECT \(AuditLog.columns) FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2", [after, limit]
        ).map(AuditLog.decode)
    }

    /// Appends an audit entry of this tenant.
    public func appendAudit(_ entry: AuditEntry) async throws {
        try await run { connection in try await AuditLog.append(entry, on: connection.query) }
    }

    /// The tenant's events after `after` (of `types`, of job `job` when given), oldest first.
    public func events(after: Int64, limit: Int) async throws -> [FeedEvent] {
        try await query(
            "SELECT \(EventLog.columns) FROM events WHERE id > $1 ORDER BY id LIMIT $2", [after, limit]
        ).map(EventLog.decode)
    }

    /// The newest event id the tenant can see (0 when none).
    public func lastEventID() async throws -> Int64 {
        try await query("SELECT coalesce(max(id), 0) FROM events").first!.decode(at: 0)
    }
}

/// An `Idempotency-Key`'s state.
public enum IdempotencyClaim: Sendable, Equatable {
    /// First use: go ahead, then `finish` (or `abandon`).
    case claimed
    /// Used before with the same request: its answer.
    case replay(status: Int, body: JSONDocument)
    /// Used before with a different request.
    case mismatch
    /// The first request with this key is still running.
    case inFlight
}

extension TenantStore {
    /// Claims `key` for a request whose body hashes to `requestHash`; keys older than `retention` are forgotten.
    public func claimIdempotencyKey(_ key: String, requestHash: String, retention: Duration) async throws
        -> IdempotencyClaim
    {
        try await run { connection in
            try await connection.query(
                "DELETE FROM idempotency_keys WHERE key = $1 AND created_at < now() - make_interval(secs => $2)",
                [key, retention.seconds])
            let inserted = try await connection.query(
                """
                INSERT INTO idempotency_keys (namespace, key, request_hash) VALUES ($1, $2, $3)
                ON CONFLICT DO NOTHING
                """, [namespace, key, requestHash])
            if inserted.affectedRows == 1 { return .claimed }
            guard
                let row = try await connection.query(
                    "SELECT request_hash, status, response::text FROM idempotency_keys WHERE key = $1", [key]
                ).first
            else { return .inFlight }
            guard try row.decode(String.self, at: 0) == requestHash else { return .mismatch }
            guard let status: Int = try row.decodeIfPresent(at: 1),
                let body: JSONDocument = try row.decodeIfPresent(at: 2)
            else { return .inFlight }
            return .replay(status: status, body: body)
        }
    }

    /// Records the answer to replay for `key`.
    public func finishIdempotencyKey(_ key: String, status: Int, body: JSONDocument) async throws {
        try await query(
            "UPDATE idempotency_keys SET status = $2, response = $3::jsonb WHERE key = $1", [key, status, body])
    }

    /// Forgets `key` whatever its state (what it created is gone).
    public func forgetIdempotencyKey(_ key: String) async throws {
        try await query("DELETE FROM idempotency_keys WHERE key = $1", [key])
    }

    /// Forgets `key` (the request failed; a retry may use it again).
    public func abandonIdempotencyKey(_ key: String) async throws {
        try await query("DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL", [key])
    }
}

/// The API role cannot be set up with the database user's privileges.
public struct APIRoleError: Error, CustomStringConvertible {
    public var description: String
}
