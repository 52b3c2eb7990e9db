import FoundationEssentials
import ReelCore
import ReelPostgres

/// Which VideoJob writes each output location (`spec.output.uri`, normalized by the caller): one writer per
/// location, so that two jobs never write into one folder and deleting one never removes the other's files.
public struct OutputClaims: Sendable {
    /// The job that holds a claim: its identity, as a task's payload carries it.
    public typealias Owner = TaskPayload

    static let sql = """
        -- One writer per output location (spec.output.uri, normalized): the reconciler claims it before a job's
        -- first task and releases it when the job is deleted or moves elsewhere.
        CREATE TABLE output_claims (
            output text PRIMARY KEY,
            resource_uid text NOT NULL,
            namespace text NOT NULL,
            name text NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX output_claims_resource ON output_claims (resource_uid);
        """

    let pool: PostgresPool

    /// Who holds `output`, if anyone.
    public func owner(of output: String) async throws -> Owner? {
        try await pool.query(
            "SELECT resource_uid, namespace, name FROM output_claims WHERE output = $1", [output]
        ).first.map { Owner(uid: try $0.decode(at: 0), namespace: try $0.decode(at: 1), name: try $0.decode(at: 2)) }
    }

    /// Claims `output` for job `owner` (dropping the job's claims elsewhere, from an earlier spec) unless another
    /// job holds it; returns who holds it now.
    public func claim(_ output: String, for owner: Owner) async throws -> Owner {
        try await pool.transaction { connection in
            try await connection.query(
                "DELETE FROM output_claims WHERE resource_uid = $1 AND output <> $2", [owner.uid, output])
            try await connection.query(
                """
                INSERT INTO output_claims (output, resource_uid, namespace, name) VALUES ($1, $2, $3, $4)
                ON CONFLICT (output) DO NOTHING
                """, [output, owner.uid, owner.namespace, owner.name])
            let row = try await connection.query(
                "SELECT resource_uid, namespace, name FROM output_claims WHERE output = $1", [output]
            ).first!
            return Owner(uid: try row.decode(at: 0), namespace: try row.decode(at: 1), name: try row.decode(at: 2))
        }
    }

    /// Drops every claim of job `uid` (it was deleted, or writes to the store now).
    public func release(uid: String) async throws {
        try await pool.query("DELETE FROM output_claims WHERE resource_uid = $1", [uid])
    }
}
