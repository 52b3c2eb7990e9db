import ReelCore
import ReelPostgres

/// Where a reader of the `resources` table stands. Every insert and update stamps its row with the writing
/// transaction's id (`changed_by`), and every delete counts in `deletions`. A read returns the rows written by
/// transactions that were not yet finished at the previous read's snapshot (its `xmin`) or began later, so no change
/// is missed however the writers' commits interleave, and writers never wait for one another. A row may come back
/// once more while an older transaction is still open; callers compare `resourceVersion`.
public struct ResourceCursor: Sendable, Equatable {
    /// The oldest transaction still running at the read (`pg_snapshot_xmin`), as text.
    public var xmin: String
    public var deletions: Int64

    public init(xmin: String, deletions: Int64) {
        self.xmin = xmin
        self.deletions = deletions
    }
}

/// What changed in the `resources` table after a `ResourceCursor`.
public struct ResourceChanges: Sendable {
    /// Where this read stands: pass it as `since` next time.
    public var cursor: ResourceCursor
    /// The resources of the kind written (created or updated) since `since` (perhaps a few seen before), all of
    /// them when it was `nil`.
    public var changed: [StoredResource]
    /// When rows were deleted after `since`: the uids of the kind still there (everything else is gone).
    public var present: Set<String>?
}

extension ResourceTable {
    static let changesSQL = """
        -- A reader asks what changed since its last read instead of reading every resource again: each row names
        -- the transaction that last wrote it; deletions are counted.
        ALTER TABLE resources ADD COLUMN changed_by xid8 NOT NULL DEFAULT pg_current_xact_id();
        CREATE INDEX resources_kind_changed_by ON resources (kind, changed_by);
        CREATE FUNCTION reel_resource_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.changed_by := pg_current_xact_id();
            RETURN NEW;
        END $$;
        CREATE TRIGGER resources_stamp BEFORE UPDATE ON resources
            FOR EACH ROW EXECUTE FUNCTION reel_resource_stamp();

        CREATE TABLE resource_deletions (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            count bigint NOT NULL
        );
        INSERT INTO resource_deletions (count) VALUES (0);
        -- SECURITY DEFINER: the API role deletes resources without any right on the counter.
        CREATE FUNCTION reel_resource_deleted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, public AS $$
        BEGIN
            UPDATE resource_deletions SET count = count + 1;
            RETURN OLD;
        END $$;
        CREATE TRIGGER resources_deleted AFTER DELETE ON resources
            FOR EACH ROW EXECUTE FUNCTION reel_resource_deleted();
        """

    /// The resources of `kind` written since `since` (every one when `nil`), read in one snapshot with the new
    /// cursor, and when anything was deleted meanwhile, the uids still present.
    public func changes(kind: String, since: ResourceCursor?) async throws -> ResourceChanges {
        let rows = try await pool.query(
            """
            SELECT pg_snapshot_xmin(pg_current_snapshot())::text, d.count, \(Self.columns(prefix: "r."))
            FROM resource_deletions d LEFT JOIN resources r ON r.kind = $1 AND r.changed_by >= $2::xid8
            ORDER BY r.namespace, r.name
            """, [kind, since?.xmin ?? "0"])
        guard let first = rows.first else { throw PostgresError(.decoding, "resource_deletions has no row") }
        let cursor = ResourceCursor(xmin: try first.decode(at: 0), deletions: try first.decode(at: 1))
        var changed: [StoredResource] = []
        for row in rows where try row.decodeIfPresent(String.self, at: 2) != nil {
            changed.append(try Self.decode(row, offset: 2))
        }
        var present: Set<String>?
        if let since, since.deletions != cursor.deletions {
            present = Set(
                try await pool.query("SELECT uid::text FROM resources WHERE kind = $1", [kind]).map {
                    try $0.decode(String.self, at: 0)
                })
        }
        return ResourceChanges(cursor: cursor, changed: changed, present: present)
    }
}
