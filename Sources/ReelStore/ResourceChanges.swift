import ReelCore
import ReelPostgres

/// Where the `resources` table stands: every insert and update stamps its row with the next `revision`, every
/// delete counts in `deletions`. Revisions are handed out under the clock row's lock, which the writing
/// transaction holds until it commits, so they are in commit order: a reader that has seen revision N has seen
/// every change numbered below it, and asking for what is above N is exact.
public struct ResourceClock: Sendable, Equatable {
    public var revision: Int64
    public var deletions: Int64

    public init(revision: Int64, deletions: Int64) {
        self.revision = revision
        self.deletions = deletions
    }
}

/// What changed in the `resources` table after a `ResourceClock`.
public struct ResourceChanges: Sendable {
    /// The clock as of the read: pass it as `since` next time.
    public var clock: ResourceClock
    /// The resources of the kind written (created or updated) after `since`, all of them when it was `nil`.
    public var changed: [StoredResource]
    /// When rows were deleted after `since`: the uids of the kind still there (everything else is gone).
    public var present: Set<String>?
}

extension ResourceTable {
    static let clockSQL = """
        -- A reader asks what changed after the revision it saw instead of reading every resource again.
        CREATE TABLE resource_clock (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            revision bigint NOT NULL,
            deletions bigint NOT NULL
        );
        INSERT INTO resource_clock (revision, deletions) VALUES (0, 0);
        ALTER TABLE resources ADD COLUMN revision bigint NOT NULL DEFAULT 0;
        CREATE INDEX resources_kind_revision ON resources (kind, revision);

        -- SECURITY DEFINER: the API role writes resources without any right on the clock.
        CREATE FUNCTION reel_resource_stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, public AS $$
        BEGIN
            UPDATE resource_clock SET revision = revision + 1 RETURNING revision INTO NEW.revision;
            RETURN NEW;
        END $$;
        CREATE TRIGGER resources_stamp BEFORE INSERT OR UPDATE ON resources
            FOR EACH ROW EXECUTE FUNCTION reel_resource_stamp();

        CREATE FUNCTION reel_resource_deleted() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, public AS $$
        BEGIN
            UPDATE resource_clock SET revision = revision + 1, deletions = deletions + 1;
            RETURN OLD;
        END $$;
        CREATE TRIGGER resources_deleted AFTER DELETE ON resources
            FOR EACH ROW EXECUTE FUNCTION reel_resource_deleted();
        """

    /// The table's clock now: one row, whatever the number of resources.
    public func clock() async throws -> ResourceClock {
        let rows = try await pool.query("SELECT revision, deletions FROM resource_clock")
        guard let row = rows.first else { throw PostgresError(.decoding, "resource_clock has no row") }
        return ResourceClock(revision: try row.decode(at: 0), deletions: try row.decode(at: 1))
    }

    /// The resources of `kind` created or updated after `since` (every one when `nil`), read in one snapshot with
    /// the clock, and when anything was deleted meanwhile, the uids still present.
    public func changes(kind: String, since: ResourceClock?) async throws -> ResourceChanges {
        let rows = try await pool.query(
            """
            SELECT c.revision, c.deletions, \(Self.columns(prefix: "r."))
            FROM resource_clock c LEFT JOIN resources r ON r.kind = $1 AND r.revision > $2
            ORDER BY r.namespace, r.name
            """, [kind, since?.revision ?? -1])
        guard let first = rows.first else { throw PostgresError(.decoding, "resource_clock has no row") }
        let clock = ResourceClock(revision: try first.decode(at: 0), deletions: try first.decode(at: 1))
        var changed: [StoredResource] = []
        for row in rows where try row.decodeIfPresent(String.self, at: 2) != nil {
            changed.append(try Self.decode(row, offset: 2))
        }
        var present: Set<String>?
        if let since, since.deletions != clock.deletions {
            present = Set(
                try await pool.query("SELECT uid::text FROM resources WHERE kind = $1", [kind]).map {
                    try $0.decode(String.self, at: 0)
                })
        }
        return ResourceChanges(clock: clock, changed: changed, present: present)
    }
}
