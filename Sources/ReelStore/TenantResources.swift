import FoundationEssentials
import ReelCore
import ReelPostgres
import ReelSupport

/// The local `ResourceWriter`: the `resources` table, as the API role, confined to the writer's tenant. Resources
/// created here have origin `api` (the directory backend leaves them alone); a resource a file declares cannot
/// be changed or deleted here — the file is its truth. Every write is announced on `reel_resources` so the
/// reconciler (in this process or another) looks at once.
public struct TenantResources: ResourceWriter {
    let tenant: TenantStore

    public init(_ tenant: TenantStore) { self.tenant = tenant }

    /// The `NOTIFY` channel of API writes; the payload is `KIND/NAMESPACE/NAME`.
    public static let channel = "reel_resources"

    public func list(kind: String, namespace: String) async throws -> [StoredResource] {
        guard namespace == tenant.namespace else { return [] }
        return try await tenant.query(
            "SELECT \(ResourceTable.columns) FROM resources WHERE kind = $1 ORDER BY created_at DESC, uid", [kind]
        ).map(ResourceTable.decode)
    }

    public func get(_ key: ResourceKey) async throws -> StoredResource? {
        try await tenant.query(
            "SELECT \(ResourceTable.columns) FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3",
            [key.kind, key.namespace, key.name]
        ).first.map(ResourceTable.decode)
    }

    public func get(kind: String, namespace: String, uid: String) async throws -> StoredResource? {
        guard UUID(uuidString: uid) != nil else { return nil }
        return try await tenant.query(
            "SELECT \(ResourceTable.columns) FROM resources WHERE kind = $1 AND namespace = $2 AND uid = $3::uuid",
            [kind, namespace, uid]
        ).first.map(ResourceTable.decode)
    }

    public func create(_ resource: NewResource) async throws -> StoredResource {
        let key = resource.key
        let rows = try await tenant.query(
            """
            WITH created AS (
                INSERT INTO resources (uid, kind, namespace, name, metadata, spec, origin)
                VALUES (gen_random_uuid(), $1, $2, $3, $4::jsonb, $5::jsonb, 'api')
                ON CONFLICT (kind, namespace, name) DO NOTHING
                RETURNING \(ResourceTable.columns)
            ), notified AS (SELECT pg_notify('\(Self.channel)', $1 || '/' || $2 || '/' || $3) FROM created)
            SELECT *, (SELECT count(*) FROM notified) FROM created
            """, [key.kind, key.namespace, key.name, try Self.metadata(resource), resource.spec])
        guard let row = rows.first else { throw ResourceWriteError.alreadyExists(key) }
        return try ResourceTable.decode(row)
    }

    public func update(_ resource: NewResource, expectedVersion: Int64?) async throws -> StoredResource {
        let key = resource.key
        let rows = try await tenant.query(
            """
            WITH target AS (
                SELECT uid, resource_version, source_file FROM resources
                WHERE kind = $1 AND namespace = $2 AND name = $3 FOR UPDATE
            ), updated AS (
                UPDATE resources r SET
                    generation = r.generation + (r.spec IS DISTINCT FROM $5::jsonb)::int,
                    resource_version = r.resource_version
                        + (r.spec IS DISTINCT FROM $5::jsonb OR r.metadata IS DISTINCT FROM $4::jsonb)::int,
                    spec = $5::jsonb, metadata = $4::jsonb, updated_at = now()
                FROM target t
                WHERE r.uid = t.uid AND t.source_file IS NULL AND r.deletion_timestamp IS NULL
                    AND ($6::bigint IS NULL OR t.resource_version = $6)
                RETURNING \(ResourceTable.columns(prefix: "r."))
            ), notified AS (SELECT pg_notify('\(Self.channel)', $1 || '/' || $2 || '/' || $3) FROM updated)
            SELECT u.*, t.resource_version, t.source_file, (SELECT count(*) FROM notified)
            FROM target t LEFT JOIN updated u ON true
            """, [key.kind, key.namespace, key.name, try Self.metadata(resource), resource.spec, expectedVersion])
        guard let row = rows.first else { throw ResourceWriteError.notFound(key) }
        if try row.decodeIfPresent(String.self, at: 0) == nil {
            if let file: String = try row.decodeIfPresent(at: 14) {
                throw ResourceWriteError.conflict(key, "\(key) is declared in \(file): change the file instead")
            }
            let stored: Int64 = try row.decode(at: 13)
            if let expectedVersion, expectedVersion != stored {
                throw ResourceWriteError.conflict(
                    key, "\(key) has resourceVersion \(stored), not \(expectedVersion): read it again and retry")
            }
            throw ResourceWriteError.conflict(key, "\(key) is being deleted")
        }
        return try ResourceTable.decode(row)
    }

    public func delete(_ key: ResourceKey) async throws {
        let rows = try await tenant.query(
            """
            WITH target AS (
                SELECT uid, finalizers, source_file, deletion_timestamp FROM resources
                WHERE kind = $1 AND namespace = $2 AND name = $3 FOR UPDATE
            ), removed AS (
                DELETE FROM resources r USING target t
                WHERE r.uid = t.uid AND t.source_file IS NULL AND t.finalizers = '{}' RETURNING r.uid
            ), marked AS (
                UPDATE resources r SET deletion_timestamp = now(), resource_version = r.resource_version + 1,
                    updated_at = now()
                FROM target t
                WHERE r.uid = t.uid AND t.source_file IS NULL AND t.finalizers <> '{}' AND t.deletion_timestamp IS NULL
                RETURNING r.uid
            ), notified AS (
                SELECT pg_notify('\(Self.channel)', $1 || '/' || $2 || '/' || $3)
                WHERE EXISTS (SELECT 1 FROM removed) OR EXISTS (SELECT 1 FROM marked)
            )
            SELECT source_file, (SELECT count(*) FROM notified) FROM target
            """, [key.kind, key.namespace, key.name])
        guard let row = rows.first else { throw ResourceWriteError.notFound(key) }
        if let file: String = try row.decodeIfPresent(at: 0) {
            throw ResourceWriteError.conflict(key, "\(key) is declared in \(file): delete it from the file instead")
        }
    }

    static func metadata(_ resource: NewResource) throws -> JSONDocument {
        struct Meta: Encodable {
            var labels: [String: String]?
            var annotations: [String: String]?
        }
        return try JSONDocument(
            encoding: Meta(
                labels: resource.labels.isEmpty ? nil : resource.labels,
                annotations: resource.annotations.isEmpty ? nil : resource.annotations))
    }
}
