import ReelPostgres

/// The `processing_jobs` rows: one per VideoJob generation being processed.
public struct JobStore: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// The job row for a resource's generation, created if it does not exist yet (idempotent); returns its id.
    public func upsertJob(resourceUID: String, namespace: String, name: String, generation: Int64, spec: PostgresJSON)
        async throws -> Int64
    {
        let rows = try await pool.query(
            """
            INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec, started_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, now())
            ON CONFLICT (resource_uid, generation) DO UPDATE SET updated_at = processing_jobs.updated_at
            RETURNING id
            """, [resourceUID, namespace, name, generation, spec])
        return try rows.first!.decode(Int64.self, at: 0)
    }
}
