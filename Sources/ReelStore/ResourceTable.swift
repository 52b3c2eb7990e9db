import FoundationEssentials
import ReelAPI
import ReelCore
import ReelPostgres
import ReelSupport

/// The `resources` table: the YAML-directory backend's API server. uid on creation, `generation` bumped only
/// when the spec changes, `resourceVersion` on every write, status written separately, finalizers, and
/// `deletionTimestamp` while finalizers remain.
public struct ResourceTable: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    static let columns = columns(prefix: "")

    /// The columns `decode` reads, each qualified by `prefix` (`"r."`).
    static func columns(prefix: String) -> String {
        [
            "uid", "kind", "namespace", "name", "generation", "resource_version", "metadata", "spec", "status",
            "finalizers", "deletion_timestamp", "created_at", "source_file",
        ].map { prefix + $0 }.joined(separator: ", ")
    }

    static func decode(_ row: PostgresRow) throws -> StoredResource { try decode(row, offset: 0) }

    /// A resource from `columns` starting at column `offset`.
    static func decode(_ row: PostgresRow, offset: Int) throws -> StoredResource {
        struct Meta: Decodable {
            var labels: [String: String]?
            var annotations: [String: String]?
        }
        let meta = try row.decode(JSONDocument.self, at: offset + 6).decode(Meta.self)
        return StoredResource(
            uid: try row.decode(UUID.self, at: offset).uuidString.lowercased(),
            key: ResourceKey(
                kind: try row.decode(at: offset + 1), namespace: try row.decode(at: offset + 2),
                name: try row.decode(at: offset + 3)),
            generation: try row.decode(at: offset + 4), resourceVersion: try row.decode(at: offset + 5),
            labels: meta.labels ?? [:], annotations: meta.annotations ?? [:], spec: try row.decode(at: offset + 7),
            status: try row.decodeIfPresent(at: offset + 8), finalizers: try row.decode(at: offset + 9),
            deletionTimestamp: try row.decodeIfPresent(at: offset + 10),
            creationTimestamp: try row.decode(at: offset + 11), sourceFile: try row.decodeIfPresent(at: offset + 12))
    }

    /// Creates or updates a resource from its declaration; returns its resourceVersion. A resource being
    /// deleted is left alone until its finalizers are done (then the next apply creates it anew, with a new uid).
    @discardableResult
    public func apply(
        _ key: ResourceKey, labels: [String: String]?, annotations: [String: String]?, spec: JSONDocument,
        sourceFile: String?
    ) async throws -> Int64 {
        struct Meta: Encodable {
            var labels: [String: String]?
            var annotations: [String: String]?
        }
        let meta = try JSONDocument(encoding: Meta(labels: labels, annotations: annotations))
        let rows = try await pool.query(
            """
            INSERT INTO resources (uid, kind, namespace, name, metadata, spec, source_file)
            VALUES (gen_random_uuid(), $1, $2, $3, $4::jsonb, $5::jsonb, $6)
            ON CONFLICT (kind, namespace, name) DO UPDATE SET
                generation = resources.generation + (resources.spec IS DISTINCT FROM EXCLUDED.spec)::int,
                resource_version = resources.resource_version
                    + (resources.spec IS DISTINCT FROM EXCLUDED.spec
                       OR resources.metadata IS DISTINCT FROM EXCLUDED.metadata
                       OR resources.source_file IS DISTINCT FROM EXCLUDED.source_file)::int,
                spec = EXCLUDED.spec, metadata = EXCLUDED.metadata, source_file = EXCLUDED.source_file,
                origin = 'file',
                updated_at = CASE WHEN resources.spec IS DISTINCT FROM EXCLUDED.spec
                                    OR resources.metadata IS DISTINCT FROM EXCLUDED.metadata
                                  THEN now() ELSE resources.updated_at END
            WHERE resources.deletion_timestamp IS NULL
            RETURNING resource_version
            """, [key.kind, key.namespace, key.name, meta, spec, sourceFile])
        return try rows.first?.decode(Int64.self, at: 0) ?? -1
    }

    /// Refreshes the planner's statistics of the table (after a bulk load).
    public func analyze() async throws { try await pool.query("ANALYZE resources") }

    /// Asks for deletion: with finalizers, sets `deletionTimestamp`; without, deletes the row. Returns whether
    /// anything changed.
    @discardableResult
    public func requestDeletion(_ key: ResourceKey) async throws -> Bool {
        let deleted = try await pool.query(
            "DELETE FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3 AND finalizers = '{}'",
            [key.kind, key.namespace, key.name])
        if deleted.affectedRows > 0 { return true }
        let marked = try await pool.query(
            """
            UPDATE resources SET deletion_timestamp = now(), resource_version = resource_version + 1, updated_at = now()
            WHERE kind = $1 AND namespace = $2 AND name = $3 AND deletion_timestamp IS NULL
            """, [key.kind, key.namespace, key.name])
        return marked.affectedRows > 0
    }

    /// Every resource of `kind` (all kinds when `nil`), by namespace and name.
    public func list(kind: String? = nil) async throws -> [StoredResource] {
        let rows = try await pool.query(
            "SELECT \(Self.columns) FROM resources WHERE $1::text IS NULL OR kind = $1 ORDER BY kind, namespace, name",
            [kind])
        return try rows.map(Self.decode)
    }

    /// The key of every resource of `kind`, by namespace and name.
    public func keys(kind: String) async throws -> [ResourceKey] {
        try await pool.query(
            "SELECT namespace, name FROM resources WHERE kind = $1 ORDER BY namespace, name", [kind]
        ).map { ResourceKey(kind: kind, namespace: try $0.decode(at: 0), name: try $0.decode(at: 1)) }
    }

    /// The keys of the resources of `kind` not settled: no status for their generation, a status whose `phase`
    /// is not one of `settledPhases`, or being deleted.
    public func unsettledKeys(kind: String, settledPhases: [String]) async throws -> [ResourceKey] {
        try await pool.query(
            """
            SELECT namespace, name FROM resources
            WHERE kind = $1 AND (deletion_timestamp IS NOT NULL
                OR status->'observedGeneration' IS DISTINCT FROM to_jsonb(generation)
                OR NOT coalesce(status->>'phase' = ANY($2::text[]), false))
            ORDER BY namespace, name
            """, [kind, settledPhases]
        ).map { ResourceKey(kind: kind, namespace: try $0.decode(at: 0), name: try $0.decode(at: 1)) }
    }

    /// What the directory backend compares its files with: each resource's key, declaring file and whether it
    /// is being deleted, without specs or statuses.
    public func declarations() async throws -> [(key: ResourceKey, sourceFile: String?, deleting: Bool)] {
        try await pool.query(
            "SELECT kind, namespace, name, source_file, deletion_timestamp IS NOT NULL FROM resources"
        ).map {
            (
                ResourceKey(kind: try $0.decode(at: 0), namespace: try $0.decode(at: 1), name: try $0.decode(at: 2)),
                try $0.decodeIfPresent(at: 3), try $0.decode(at: 4)
            )
        }
    }

    /// One resource, or `nil`.
    public func get(_ key: ResourceKey) async throws -> StoredResource? {
        let rows = try await pool.query(
            "SELECT \(Self.columns) FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3",
            [key.kind, key.namespace, key.name])
        return try rows.first.map(Self.decode)
    }

    /// Writes the status subresource when it differs (as JSON) from what is stored; returns whether it wrote.
    @discardableResult
    public func updateStatus(uid: String, status: JSONDocument) async throws -> Bool {
        let rows = try await pool.query(
            """
            UPDATE resources SET status = $2::jsonb, resource_version = resource_version + 1, updated_at = now()
            WHERE uid = $1::uuid AND status IS DISTINCT FROM $2::jsonb
            """, [uid, status])
        return rows.affectedRows > 0
    }

    /// Adds a finalizer (no-op when present or when the resource is being deleted).
    public func addFinalizer(uid: String, _ finalizer: String) async throws {
        try await pool.query(
            """
            UPDATE resources SET finalizers = array_append(finalizers, $2), resource_version = resource_version + 1
            WHERE uid = $1::uuid AND NOT ($2 = ANY(finalizers)) AND deletion_timestamp IS NULL
            """, [uid, finalizer])
    }

    /// Removes a finalizer; a resource being deleted that has none left is deleted.
    public func removeFinalizer(uid: String, _ finalizer: String) async throws {
        try await pool.query(
            """
            UPDATE resources SET finalizers = array_remove(finalizers, $2), resource_version = resource_version + 1
            WHERE uid = $1::uuid AND $2 = ANY(finalizers)
            """, [uid, finalizer])
        try await pool.query(
            "DELETE FROM resources WHERE uid = $1::uuid AND deletion_timestamp IS NOT NULL AND finalizers = '{}'", [uid]
        )
    }

    /// Replaces the recorded problems of `file` (none: forgets the file).
    public func recordProblems(file: String, _ problems: [ManifestProblem]) async throws {
        if problems.isEmpty {
            try await pool.query("DELETE FROM manifest_problems WHERE file = $1", [file])
        } else {
            try await pool.query(
                """
                INSERT INTO manifest_problems (file, problems) VALUES ($1, $2::jsonb)
                ON CONFLICT (file) DO UPDATE SET problems = EXCLUDED.problems, seen_at = now()
                """, [file, try JSONDocument(encoding: problems)])
        }
    }

    /// Forgets problems of files not in `files`.
    public func forgetProblems(except files: [String]) async throws {
        try await pool.query("DELETE FROM manifest_problems WHERE NOT (file = ANY($1::text[]))", [files])
    }

    /// Every recorded manifest problem.
    public func problems() async throws -> [ManifestProblem] {
        let rows = try await pool.query("SELECT problems FROM manifest_problems ORDER BY file")
        return try rows.flatMap { try $0.decode(JSONDocument.self, at: 0).decode([ManifestProblem].self) }
    }
}
