import Crypto
import FoundationEssentials
import ReelPostgres
import ReelSupport

/// What a token may do in its namespace.
public enum TokenRole: String, Sendable, Codable, CaseIterable, Comparable {
    case viewer, editor, admin

    public static func < (a: TokenRole, b: TokenRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An API token as stored (never its secret).
public struct APIToken: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var role: TokenRole
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
}

/// A mistake in a token command: a duplicate name, an unknown token.
public struct TokenError: Error, CustomStringConvertible {
    public var description: String
}

/// `api_tokens`: bearer tokens that carry a namespace and a role. The secret is shown once, at creation; only its
/// SHA-256 is kept.
public struct TokenStore: Sendable {
    let pool: PostgresPool

    /// The prefix of every secret (so a leaked one is recognisable).
    public static let prefix = "reel_"

    /// Creates a token; returns the secret (shown once) and the stored token.
    public func create(name: String, namespace: String, role: TokenRole, expiresIn: Duration?) async throws
        -> (secret: String, token: APIToken)
    {
        guard !namespace.isEmpty, TenantStore.isNamespace(namespace) else {
            throw TokenError(
                description: "\"\(namespace)\" is not a namespace (lowercase letters, digits and '-', at most 63)")
        }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let secret = Self.prefix + Base64URL.encode(Data(bytes))
        do {
            let rows = try await pool.query(
                """
                INSERT INTO api_tokens (name, namespace, role, token_hash, expires_at)
                VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                RETURNING \(Self.columns)
                """, [name, namespace, role.rawValue, sha256Hex(secret), expiresIn?.seconds])
            return (secret, try Self.decode(rows.first!))
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw TokenError(description: "a token named \"\(name)\" already exists in namespace \(namespace)")
        }
    }

    /// Tokens of `namespace` (every namespace when `nil`), newest first.
    public func list(namespace: String?) async throws -> [APIToken] {
        try await pool.query(
            "SELECT \(Self.columns) FROM api_tokens WHERE $1::text IS NULL OR namespace = $1 ORDER BY created_at DESC",
            [namespace]
        ).map(Self.decode)
    }

    /// Revokes a token (it stops working at once); throws when there is no such live token.
    public func revoke(name: String, namespace: String) async throws {
        let rows = try await pool.query(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND namespace = $2 AND revoked_at IS NULL",
            [name, namespace])
        if rows.affectedRows == 0 {
            throw TokenError(description: "no live token named \"\(name)\" in namespace \(namespace)")
        }
    }

    /// The live token whose secret is `secret`, noting its use; `nil` for an unknown, expired or revoked one.
    public func authenticate(_ secret: String) async throws -> APIToken? {
        guard secret.hasPrefix(Self.prefix) else { return nil }
        // Read on every request (a revocation takes effect at once); the use is noted at most once a minute, so a
        // busy token does not cost a write per request.
        let rows = try await pool.query(
            """
            WITH live AS (
                SELECT \(Self.columns) FROM api_tokens
                WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ), noted AS (
                UPDATE api_tokens SET last_used_at = now()
                WHERE token_hash = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                    AND EXISTS (SELECT 1 FROM live)
                RETURNING 1
            )
            SELECT *, (SELECT count(*) FROM noted) FROM live
            """, [sha256Hex(secret)])
        return try rows.first.map(Self.decode)
    }

    static let columns = "name, namespace, role, created_at, expires_at, revoked_at, last_used_at"

    static func decode(_ row: PostgresRow) throws -> APIToken {
        APIToken(
            name: try row.decode(at: 0), namespace: try row.decode(at: 1),
            role: TokenRole(rawValue: try row.decode(at: 2)) ?? .viewer, createdAt: try row.decode(at: 3),
            expiresAt: try row.decodeIfPresent(at: 4), revokedAt: try row.decodeIfPresent(at: 5),
            lastUsedAt: try row.decodeIfPresent(at: 6))
    }
}

/// One `audit_log` row.
public struct AuditEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var time: Date
    public var tokenName: String?
    public var namespace: String
    public var verb: String
    public var resource: String
    public var requestID: String?
    public var clientAddress: String?
    public var code: Int

    public init(
        id: Int64 = 0, time: Date = Date(), tokenName: String?, namespace: String, verb: String, resource: String,
        requestID: String?, clientAddress: String?, code: Int
    ) {
        self.id = id
        self.time = time
        self.tokenName = tokenName
        self.namespace = namespace
        self.verb = verb
        self.resource = resource
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.code = code
    }
}

/// The append-only `audit_log` (a trigger refuses updates and deletes to everyone).
public struct AuditLog: Sendable {
    let pool: PostgresPool

    public func append(_ entry: AuditEntry) async throws {
        try await Self.append(entry, on: pool.query)
    }

    static func append(
        _ entry: AuditEntry, on query: (String, [(any PostgresEncodable)?]) async throws -> PostgresRows
    ) async throws {
        _ = try await query(
            """
            INSERT INTO audit_log (token_name, namespace, verb, resource, request_id, client_address, code)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [
                entry.tokenName, entry.namespace, entry.verb, entry.resource, entry.requestID, entry.clientAddress,
                entry.code,
            ])
    }

    static func decode(_ row: PostgresRow) throws -> AuditEntry {
        AuditEntry(
            id: try row.decode(at: 0), time: try row.decode(at: 1), tokenName: try row.decodeIfPresent(at: 2),
            namespace: try row.decode(at: 3), verb: try row.decode(at: 4), resource: try row.decode(at: 5),
            requestID: try row.decodeIfPresent(at: 6), clientAddress: try row.decodeIfPresent(at: 7),
            code: try row.decode(at: 8))
    }

    static let columns = "id, at, token_name, namespace, verb, resource, request_id, client_address, code"
}

/// One event of the feed behind `/api/events`.
public struct FeedEvent: Sendable, Equatable {
    public var id: Int64
    public var namespace: String
    public var type: String
    public var jobUID: String?
    /// The event's JSON.
    public var data: JSONDocument
    public var time: Date
}

/// The `events` table: job changes (written by the reconciler), log lines (a trigger on `job_logs`); each insert
/// is announced with `NOTIFY reel_events, 'NAMESPACE id'`.
public struct EventLog: Sendable {
    let pool: PostgresPool

    public static let channel = "reel_events"
    /// The advisory lock that orders publishers ("evts").
    static let orderLock: Int64 = 0x6576_7473

    /// Appends an event; returns its id.
    @discardableResult
    public func publish(namespace: String, type: String, jobUID: String?, data: JSONDocument) async throws -> Int64 {
        try await pool.query("SELECT reel_publish($1, $2, $3, $4::jsonb)", [namespace, type, jobUID, data])
            .first!.decode(at: 0)
    }

    /// Events of every namespace after `after`, oldest first (the service role's view: `reel get -w`).
    public func after(_ after: Int64, limit: Int) async throws -> [FeedEvent] {
        try await pool.query(
            "SELECT \(Self.columns) FROM events WHERE id > $1 ORDER BY id LIMIT $2", [after, limit]
        ).map(Self.decode)
    }

    /// The newest event id (0 when none).
    public func lastID() async throws -> Int64 {
        try await pool.query("SELECT coalesce(max(id), 0) FROM events").first!.decode(at: 0)
    }

    /// Deletes events older than `retention`; returns how many.
    @discardableResult
    public func prune(olderThan retention: Duration) async throws -> Int {
        try await pool.query("DELETE FROM events WHERE at < now() - make_interval(secs => $1)", [retention.seconds])
            .affectedRows
    }

    static let columns = "id, namespace, type, job_uid, data::text, at"

    static func decode(_ row: PostgresRow) throws -> FeedEvent {
        FeedEvent(
            id: try row.decode(at: 0), namespace: try row.decode(at: 1), type: try row.decode(at: 2),
            jobUID: try row.decodeIfPresent(at: 3), data: try row.decode(at: 4), time: try row.decode(at: 5))
    }
}

extension Database {
    public var tokens: TokenStore { TokenStore(pool: pool) }
    public var audit: AuditLog { AuditLog(pool: pool) }
    public var events: EventLog { EventLog(pool: pool) }
    /// Resumable uploads of every tenant.
    public var uploads: UploadTable { UploadTable(pool: pool) }
}
