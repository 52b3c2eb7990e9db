import FoundationEssentials
import ReelPostgres
import ReelSupport

/// A resumable upload as stored.
public struct UploadRecord: Sendable, Equatable {
    public enum State: String, Sendable { case receiving, complete, invalid }

    public var id: String
    public var namespace: String
    /// The name of the token that created it.
    public var owner: String
    public var filename: String
    public var filetype: String?
    /// Declared size; `nil` while deferred (tus `Upload-Defer-Length`).
    public var length: Int?
    /// Bytes the store holds durably.
    public var received: Int
    /// The client's `Upload-Metadata`, decoded.
    public var metadata: [String: String]
    public var objectKey: String
    /// The store's record of the partial object (`PartialState`).
    public var partial: JSONDocument
    public var state: State
    public var reason: String?
    public var message: String?
    /// What the probe found (`{"duration", "streams"}`), once complete.
    public var media: JSONDocument?
    public var jobUID: String?
    public var jobName: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var completedAt: Date?

    /// Rows still to be shown: finished ones, and incomplete ones before their expiry (the cleanup removes the rest).
    static let live = "(state <> 'receiving' OR expires_at IS NULL OR expires_at > now())"

    static let columns = """
        id, namespace, owner, filename, filetype, length, received, metadata::text, object_key, partial::text, state,
        reason, message, media::text, job_uid, job_name, created_at, expires_at, completed_at
        """

    init(_ row: PostgresRow) throws {
        id = try row.decode(at: 0)
        namespace = try row.decode(at: 1)
        owner = try row.decode(at: 2)
        filename = try row.decode(at: 3)
        filetype = try row.decodeIfPresent(at: 4)
        length = try row.decodeIfPresent(at: 5)
        received = try row.decode(at: 6)
        metadata = try row.decode(JSONDocument.self, at: 7).decode([String: String].self)
        objectKey = try row.decode(at: 8)
        partial = try row.decode(at: 9)
        state = State(rawValue: try row.decode(at: 10)) ?? .invalid
        reason = try row.decodeIfPresent(at: 11)
        message = try row.decodeIfPresent(at: 12)
        media = try row.decodeIfPresent(at: 13)
        jobUID = try row.decodeIfPresent(at: 14)
        jobName = try row.decodeIfPresent(at: 15)
        createdAt = try row.decode(at: 16)
        expiresAt = try row.decodeIfPresent(at: 17)
        completedAt = try row.decodeIfPresent(at: 18)
    }
}

/// What a new upload is.
public struct NewUpload: Sendable {
    public var id: String
    public var owner: String
    public var filename: String
    public var filetype: String?
    public var length: Int?
    public var metadata: [String: String]
    public var objectKey: String
    public var partial: JSONDocument
    public var expiresAt: Date

    public init(
        id: String, owner: String, filename: String, filetype: String?, length: Int?, metadata: [String: String],
        objectKey: String, partial: JSONDocument, expiresAt: Date
    ) {
        self.id = id
        self.owner = owner
        self.filename = filename
        self.filetype = filetype
        self.length = length
        self.metadata = metadata
        self.objectKey = objectKey
        self.partial = partial
        self.expiresAt = expiresAt
    }
}

/// Why a writer could not take an upload.
public enum UploadClaim: Sendable {
    case claimed(UploadRecord)
    /// Another request is appending.
    case busy
    /// No such upload in this tenant.
    case missing
    /// Complete or invalid: nothing more to append.
    case finished(UploadRecord)
}

extension TenantStore {
    /// Creates an upload if the tenant's uploads stay within `quota` bytes (declared lengths, or bytes received
    /// while deferred); `false` when they would not.
    public func createUpload(_ upload: NewUpload, quota: Int?) async throws -> Bool {
        try await run { connection in
            if let quota {
                // One creator at a time per tenant, so two cannot both fit under the quota.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('reel.uploads.' || $1))", [namespace])
                let used: Int = try await connection.query(
                    "SELECT coalesce(sum(coalesce(length, received)), 0)::bigint FROM uploads WHERE state <> 'invalid'"
                ).first!.decode(at: 0)
                guard used + (upload.length ?? 0) <= quota else { return false }
            }
            try await connection.query(
                """
                INSERT INTO uploads (id, namespace, owner, filename, filetype, length, metadata, object_key, partial,
                                     expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10)
                """,
                [
                    upload.id, namespace, upload.owner, upload.filename, upload.filetype, upload.length,
                    try JSONDocument(encoding: upload.metadata), upload.objectKey, upload.partial, upload.expiresAt,
                ])
            return true
        }
    }

    /// The tenant's upload `id` (`nil` once expired).
    public func upload(_ id: String) async throws -> UploadRecord? {
        try await query("SELECT \(UploadRecord.columns) FROM uploads WHERE id = $1 AND \(UploadRecord.live)", [id])
            .first.map(UploadRecord.init)
    }

    /// The tenant's uploads, newest first.
    public func uploads(limit: Int) async throws -> [UploadRecord] {
        try await query(
            """
            SELECT \(UploadRecord.columns) FROM uploads WHERE \(UploadRecord.live)
            ORDER BY created_at DESC, id LIMIT $1
            """, [limit]
        ).map(UploadRecord.init)
    }

    /// Makes `writer` the only request that may append to upload `id` for `lease`.
    public func claimUpload(_ id: String, writer: String, lease: Duration) async throws -> UploadClaim {
        try await run { connection in
            if let row = try await connection.query(
                """
                UPDATE uploads SET writer = $2, writer_until = now() + make_interval(secs => $3), updated_at = now()
                WHERE id = $1 AND state = 'receiving' AND (writer IS NULL OR writer_until < now())
                    AND \(UploadRecord.live)
                RETURNING \(UploadRecord.columns)
                """, [id, writer, lease.seconds]
            ).first {
                return .claimed(try UploadRecord(row))
            }
            guard
                let row = try await connection.query(
                    "SELECT \(UploadRecord.columns) FROM uploads WHERE id = $1 AND \(UploadRecord.live)", [id]
                ).first
            else { return .missing }  // none, or expired: the cleanup will remove it
            let record = try UploadRecord(row)
            return record.state == .receiving ? .busy : .finished(record)
        }
    }

    /// Records progress of `writer` (offset, the store's state, a deferred length now known), extends its
    /// lease and moves the expiry to `expiry` from now; `false` when the writer lost the upload (its lease ran out
    /// and another took it).
    public func recordUpload(
        _ id: String, writer: String, received: Int, partial: JSONDocument, length: Int?, lease: Duration,
        expiry: Duration
    ) async throws -> Bool {
        try await query(
            """
            UPDATE uploads SET received = $3, partial = $4::jsonb, length = coalesce(length, $5),
                writer_until = now() + make_interval(secs => $6), expires_at = now() + make_interval(secs => $7),
                updated_at = now()
            WHERE id = $1 AND writer = $2 AND state = 'receiving'
            """, [id, writer, received, partial, length, lease.seconds, expiry.seconds]
        ).affectedRows == 1
    }

    /// Lets another request append.
    public func releaseUpload(_ id: String, writer: String) async throws {
        try await query(
            "UPDATE uploads SET writer = NULL, writer_until = NULL WHERE id = $1 AND writer = $2", [id, writer])
    }

    /// Sets a deferred length (only once) if the tenant's uploads then stay within `quota`; `false` otherwise.
    public func declareUploadLength(_ id: String, length: Int, quota: Int?) async throws -> Bool {
        try await run { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('reel.uploads.' || $1))", [namespace])
            return try await connection.query(
                """
                UPDATE uploads SET length = $2 WHERE id = $1 AND length IS NULL AND ($3::bigint IS NULL OR $2 + (
                    SELECT coalesce(sum(coalesce(length, received)), 0) FROM uploads
                    WHERE state <> 'invalid' AND id <> $1) <= $3)
                """, [id, length, quota]
            ).affectedRows == 1
        }
    }

    /// Ends an upload: `complete` with what the probe found, or `invalid` with the reason.
    public func finishUpload(
        _ id: String, state: UploadRecord.State, reason: String? = nil, message: String? = nil,
        media: JSONDocument? = nil
    ) async throws {
        try await query(
            """
            UPDATE uploads SET state = $2, reason = $3, message = $4, media = $5::jsonb, completed_at = now(),
                expires_at = NULL, writer = NULL, writer_until = NULL, updated_at = now()
            WHERE id = $1
            """, [id, state.rawValue, reason, message, media])
    }

    /// Notes the job made from upload `id`.
    public func attachJob(toUpload id: String, uid: String, name: String) async throws {
        try await query("UPDATE uploads SET job_uid = $2, job_name = $3 WHERE id = $1", [id, uid, name])
    }

    /// Deletes the row of upload `id`; `false` when there was none.
    public func deleteUpload(_ id: String) async throws -> Bool {
        try await query("DELETE FROM uploads WHERE id = $1", [id]).affectedRows == 1
    }
}

/// Uploads as the service role sees them (every tenant): what ingest reads and the cleanup removes.
public struct UploadTable: Sendable {
    let pool: PostgresPool

    /// Upload `id`, whatever its tenant (ingest checks the job's namespace against it).
    public func upload(_ id: String) async throws -> UploadRecord? {
        try await pool.query("SELECT \(UploadRecord.columns) FROM uploads WHERE id = $1", [id]).first
            .map(UploadRecord.init)
    }

    /// Incomplete uploads past their expiry, and not being written.
    public func expired(limit: Int = 100) async throws -> [UploadRecord] {
        try await pool.query(
            """
            SELECT \(UploadRecord.columns) FROM uploads
            WHERE state = 'receiving' AND expires_at < now() AND (writer IS NULL OR writer_until < now())
            ORDER BY expires_at LIMIT $1
            """, [limit]
        ).map(UploadRecord.init)
    }

    /// Deletes an upload's row, once its bytes are gone.
    public func delete(_ id: String) async throws {
        try await pool.query("DELETE FROM uploads WHERE id = $1", [id])
    }
}
