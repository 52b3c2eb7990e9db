import FoundationEssentials
import ReelAPI
import ReelCore
import ReelPostgres
import ReelSupport

/// A `processing_jobs` row as the stages read it.
public struct JobRow: Sendable {
    public var id: Int64
    public var uid: String
    public var namespace: String
    public var name: String
    public var generation: Int64
    public var spec: VideoJobSpec
    public var sourceKey: String?
    public var sourceName: String?
    public var sourceDuration: Double?
    /// The probe's streams (the media engine's `[StreamInfo]`), once ingest stored the source.
    public var sourceStreams: JSONDocument?
    public var outputs: JobOutputs
}

/// A generation of a resource as the reconciler observes it.
public struct JobGenerationRow: Sendable, Equatable {
    public var id: Int64
    public var generation: Int64
    public var phase: VideoJobPhase
    public var outputs: JobOutputs
    public var startedAt: Date
    public var finishedAt: Date?
    public var render: RenderFacts?
    /// Finished, with no stored source and no chunk rows left: nothing of it to remove when a newer generation
    /// replaces it.
    public var retired = false
}

/// What a stage found out about the source (ingest).
public struct SourceFacts: Sendable {
    public var key: String
    public var name: String
    public var bytes: Int
    public var sha256: String?
    public var duration: Double?
    /// The probe's streams.
    public var streams: JSONDocument

    public init(key: String, name: String, bytes: Int, sha256: String?, duration: Double?, streams: JSONDocument) {
        self.key = key
        self.name = name
        self.bytes = bytes
        self.sha256 = sha256
        self.duration = duration
        self.streams = streams
    }
}

/// The `processing_jobs` rows: one per VideoJob generation being processed. The reconciler writes the phase,
/// progress and error (`recordPhase`); each stage writes only its own facts, under its task's lease.
public struct JobStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    static let columns =
        "id, resource_uid, namespace, name, generation, spec, source_key, source_name, source_duration, "
        + "source_streams, outputs"

    /// The job row for a resource's generation, created if it does not exist yet (idempotent); returns its id.
    @discardableResult
    public func upsertJob(resourceUID: String, namespace: String, name: String, generation: Int64, spec: JSONDocument)
        async throws -> Int64
    {
        let rows = try await pool.query(
            """
            INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec, started_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, now())
            ON CONFLICT (resource_uid, generation) DO UPDATE SET updated_at = processing_jobs.updated_at
            RETURNING id
            """, [resourceUID, namespace, name, generation, spec])
        guard let row = rows.first else { throw PostgresError(.server, "INSERT … RETURNING gave no row") }
        return try row.decode(Int64.self, at: 0)
    }

    /// Job `id`, or `nil` when it is gone.
    public func job(_ id: Int64) async throws -> JobRow? {
        let rows = try await pool.query("SELECT \(Self.columns) FROM processing_jobs WHERE id = $1", [id])
        return try rows.first.map { row in
            JobRow(
                id: try row.decode(at: 0), uid: try row.decode(at: 1), namespace: try row.decode(at: 2),
                name: try row.decode(at: 3), generation: try row.decode(at: 4),
                spec: try row.decode(JSONDocument.self, at: 5).decode(VideoJobSpec.self),
                sourceKey: try row.decodeIfPresent(at: 6), sourceName: try row.decodeIfPresent(at: 7),
                sourceDuration: try row.decodeIfPresent(at: 8), sourceStreams: try row.decodeIfPresent(at: 9),
                outputs: try row.decode(JSONDocument.self, at: 10).decode(JobOutputs.self))
        }
    }

    /// The spec a resource's latest generation was processed with (as `upsertJob` recorded it), or `nil` when it
    /// has no job row.
    public func lastSpec(resourceUID uid: String) async throws -> JSONDocument? {
        let rows = try await pool.query(
            "SELECT spec FROM processing_jobs WHERE resource_uid = $1 ORDER BY generation DESC LIMIT 1", [uid])
        return try rows.first?.decode(JSONDocument.self, at: 0)
    }

    /// The namespace and name of the resource job `id` serves.
    public func resource(ofJob id: Int64) async throws -> (namespace: String, name: String)? {
        let rows = try await pool.query("SELECT namespace, name FROM processing_jobs WHERE id = $1", [id])
        return try rows.first.map { (try $0.decode(at: 0), try $0.decode(at: 1)) }
    }

    /// Every generation's row of a resource.
    public func generations(resourceUID uid: String) async throws -> [JobGenerationRow] {
        try await generationRows(where: "resource_uid = $1 ORDER BY id", uid)
    }

    /// Job `id`'s generation row (what `generations` gives for it), or `nil` when it is gone.
    public func generation(_ id: Int64) async throws -> JobGenerationRow? {
        try await generationRows(where: "id = $1", id).first
    }

    private func generationRows(where condition: String, _ parameter: any PostgresEncodable) async throws
        -> [JobGenerationRow]
    {
        let rows = try await pool.query(
            """
            SELECT id, generation, phase, outputs, coalesce(started_at, created_at), finished_at, render_facts,
                   phase IN ('Succeeded', 'Failed') AND source_key IS NULL
                       AND NOT EXISTS (SELECT 1 FROM video_chunks c WHERE c.job_id = p.id)
            FROM processing_jobs p WHERE \(condition)
            """, [parameter])
        return try rows.map { row in
            let phase: String = try row.decode(at: 2)
            guard let known = VideoJobPhase(rawValue: phase) else {
                throw PostgresError(.decoding, "processing_jobs.phase \"\(phase)\" is not a VideoJob phase")
            }
            return JobGenerationRow(
                id: try row.decode(at: 0), generation: try row.decode(at: 1), phase: known,
                outputs: try row.decode(JSONDocument.self, at: 3).decode(JobOutputs.self),
                startedAt: try row.decode(at: 4), finishedAt: try row.decodeIfPresent(at: 5),
                render: try row.decodeIfPresent(JSONDocument.self, at: 6)?.decode(RenderFacts.self),
                retired: try row.decode(at: 7))
        }
    }

    /// Retires a generation a newer one replaced, once its tasks have stopped: it ends `Failed` (`Superseded`)
    /// unless it had finished, and forgets its stored source and its chunks (whose objects the caller removed).
    public func retire(_ id: Int64, by generation: Int64) async throws {
        try await pool.transaction { connection in
            try await connection.query(
                """
                UPDATE processing_jobs
                SET phase = CASE WHEN phase IN ('Succeeded', 'Failed') THEN phase ELSE 'Failed' END,
                    error_reason = CASE WHEN phase IN ('Succeeded', 'Failed') THEN error_reason ELSE 'Superseded' END,
                    error_message = CASE WHEN phase IN ('Succeeded', 'Failed') THEN error_message
                                         ELSE 'generation ' || $2::bigint::text || ' replaced it' END,
                    source_key = NULL, finished_at = coalesce(finished_at, now()), updated_at = now()
                WHERE id = $1
                """, [id, generation])
            try await connection.query("DELETE FROM video_chunks WHERE job_id = $1", [id])
        }
    }

    /// The id of a resource's generation, if it is being processed.
    public func jobID(resourceUID uid: String, generation: Int64) async throws -> Int64? {
        let rows = try await pool.query(
            "SELECT id FROM processing_jobs WHERE resource_uid = $1 AND generation = $2", [uid, generation])
        return try rows.first?.decode(Int64.self, at: 0)
    }

    /// Every job of the resource `namespace/name` (all generations, uids), oldest first.
    public func jobIDs(namespace: String, name: String) async throws -> [Int64] {
        try await pool.query(
            "SELECT id FROM processing_jobs WHERE namespace = $1 AND name = $2 ORDER BY id", [namespace, name]
        ).map { try $0.decode(Int64.self, at: 0) }
    }

    /// The reconciler's verdict: phase, progress, and the error of a failed job; `finished_at` is set once.
    public func recordPhase(_ id: Int64, phase: VideoJobPhase, progress: Int, reason: String?, message: String?)
        async throws
    {
        try await pool.query(
            """
            UPDATE processing_jobs SET phase = $2, progress = $3, error_reason = $4, error_message = $5,
                finished_at = CASE WHEN $2 IN ('Succeeded', 'Failed') THEN coalesce(finished_at, now()) END,
                updated_at = now()
            WHERE id = $1
            """, [id, phase.rawValue, progress, reason, message])
    }

    /// Deletes every generation's row of a resource (chunks, tasks and logs go with them).
    public func deleteAll(resourceUID uid: String) async throws {
        try await pool.query("DELETE FROM processing_jobs WHERE resource_uid = $1", [uid])
    }

    // MARK: facts the stages write, each under its task's lease

    /// Ingest: where the source is stored and what it is.
    public func recordSource(_ id: Int64, _ source: SourceFacts, lease: Lease) async throws {
        try await TaskQueue.fenced(pool, lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs SET source_key = $2, source_name = $3, source_bytes = $4, source_sha256 = $5,
                    source_duration = $6, source_streams = $7::jsonb, updated_at = now()
                WHERE id = $1
                """, [id, source.key, source.name, source.bytes, source.sha256, source.duration, source.streams])
        }
    }

    /// Assemble: the timeline's three files.
    public func recordTimeline(_ id: Int64, json: String, otio: String, edl: String, lease: Lease) async throws {
        try await TaskQueue.fenced(pool, lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs
                SET outputs = outputs || jsonb_build_object('timeline', $2::text, 'otio', $3::text, 'edl', $4::text),
                    updated_at = now()
                WHERE id = $1
                """, [id, json, otio, edl])
        }
    }

    /// Render: the output and what it holds.
    public func recordRender(_ id: Int64, uri: String, facts: RenderFacts, lease: Lease) async throws {
        let facts = try JSONDocument(encoding: facts)
        try await TaskQueue.fenced(pool, lease) { connection in
            try await connection.query(
                """
                UPDATE processing_jobs SET outputs = outputs || jsonb_build_object('render', $2::text),
                    render_facts = $3::jsonb, updated_at = now()
                WHERE id = $1
                """, [id, uri, facts])
        }
    }
}
