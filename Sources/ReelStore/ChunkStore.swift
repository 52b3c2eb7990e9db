import FoundationEssentials
import ReelAPI
import ReelCore
import ReelPostgres
import ReelSupport

/// A chunk split stored, to record.
public struct NewChunk: Sendable {
    public var index: Int
    public var startSeconds: Double
    /// The exact start, as a fraction of a second.
    public var startNumerator: Int64
    public var startDenominator: Int64
    public var durationSeconds: Double
    public var bytes: Int
    public var sha256: String
    public var storageKey: String

    public init(
        index: Int, startSeconds: Double, startNumerator: Int64, startDenominator: Int64, durationSeconds: Double,
        bytes: Int, sha256: String, storageKey: String
    ) {
        self.index = index
        self.startSeconds = startSeconds
        self.startNumerator = startNumerator
        self.startDenominator = startDenominator
        self.durationSeconds = durationSeconds
        self.bytes = bytes
        self.sha256 = sha256
        self.storageKey = storageKey
    }
}

/// A stored chunk, as the analyze stage reads it.
public struct ChunkRow: Sendable, Equatable {
    public var sha256: String
    public var storageKey: String
    public var startSeconds: Double
    public var durationSeconds: Double
}

/// A chunk's analysis, as the assemble stage reads it (`nil` while not analyzed).
public struct ChunkAnalysisRow: Sendable {
    public var index: Int
    public var startSeconds: Double
    /// Absolute times (the chunk's start added).
    public var analysis: JSONDocument?
}

/// What a job's chunks add up to.
public struct ChunkSummary: Sendable, Equatable {
    public var stored = 0
    public var analyzed = 0
    public var usage = JobUsage()
}

/// Which analysis a cached result is: a chunk's bytes, the analyzer, its model and a hash of its parameters.
public struct AnalysisCacheKey: Sendable, Equatable {
    public var chunkSHA256: String
    public var analyzer: String
    public var model: String
    public var parametersHash: String

    public init(chunkSHA256: String, analyzer: String, model: String, parametersHash: String) {
        self.chunkSHA256 = chunkSHA256
        self.analyzer = analyzer
        self.model = model
        self.parametersHash = parametersHash
    }
}

/// An analysis to record: relative to the chunk for the cache, absolute for the job, and what it cost.
public struct AnalysisRecord: Sendable {
    public var cacheKey: AnalysisCacheKey
    public var relative: JSONDocument
    public var absolute: JSONDocument
    /// What the analysis took (kept with the cached result).
    public var usage: JobUsage
    /// What this job paid (nothing for a cache hit).
    public var paid: JobUsage

    public init(
        cacheKey: AnalysisCacheKey, relative: JSONDocument, absolute: JSONDocument, usage: JobUsage,
        paid: JobUsage
    ) {
        self.cacheKey = cacheKey
        self.relative = relative
        self.absolute = absolute
        self.usage = usage
        self.paid = paid
    }
}

/// The `video_chunks` rows and the `analysis_cache` behind them.
public struct ChunkStore: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// Split: replaces the job's chunks, under the task's lease.
    public func replace(jobID: Int64, with chunks: [NewChunk], lease: Lease) async throws {
        try await TaskQueue.fenced(pool, lease) { connection in
            try await connection.query("DELETE FROM video_chunks WHERE job_id = $1", [jobID])
            try await connection.query(
                """
                INSERT INTO video_chunks (job_id, chunk_index, start_seconds, start_numerator, start_denominator,
                                          duration_seconds, bytes, sha256, storage_key)
                SELECT $1, t.* FROM unnest($2::integer[], $3::double precision[], $4::bigint[], $5::bigint[],
                                           $6::double precision[], $7::bigint[], $8::text[], $9::text[]) AS t
                """,
                [
                    jobID, chunks.map(\.index), chunks.map(\.startSeconds), chunks.map(\.startNumerator),
                    chunks.map(\.startDenominator), chunks.map(\.durationSeconds), chunks.map(\.bytes),
                    chunks.map(\.sha256), chunks.map(\.storageKey),
                ])
        }
    }

    /// One stored chunk.
    public func chunk(jobID: Int64, index: Int) async throws -> ChunkRow? {
        let rows = try await pool.query(
            """
            SELECT sha256, storage_key, start_seconds, duration_seconds FROM video_chunks
            WHERE job_id = $1 AND chunk_index = $2
            """, [jobID, index])
        return try rows.first.map {
            ChunkRow(
                sha256: try $0.decode(at: 0), storageKey: try $0.decode(at: 1), startSeconds: try $0.decode(at: 2),
                durationSeconds: try $0.decode(at: 3))
        }
    }

    /// Every chunk's analysis, in order.
    public func analyses(jobID: Int64) async throws -> [ChunkAnalysisRow] {
        let rows = try await pool.query(
            "SELECT chunk_index, start_seconds, analysis FROM video_chunks WHERE job_id = $1 ORDER BY chunk_index",
            [jobID])
        return try rows.map {
            ChunkAnalysisRow(
                index: try $0.decode(at: 0), startSeconds: try $0.decode(at: 1), analysis: try $0.decodeIfPresent(at: 2)
            )
        }
    }

    /// How many chunks are stored and analyzed, and what their analyses cost.
    public func summary(jobID: Int64) async throws -> ChunkSummary {
        let rows = try await pool.query(
            """
            SELECT count(*)::bigint, count(analysis)::bigint, coalesce(sum(prompt_tokens), 0)::bigint,
                   coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(requests), 0)::bigint
            FROM video_chunks WHERE job_id = $1
            """, [jobID])
        guard let row = rows.first else { return ChunkSummary() }
        return ChunkSummary(
            stored: try row.decode(at: 0), analyzed: try row.decode(at: 1),
            usage: JobUsage(
                promptTokens: try row.decode(at: 2), outputTokens: try row.decode(at: 3),
                requests: try row.decode(at: 4)))
    }

    /// A cached analysis (relative to its chunk), if any run made one.
    public func cachedAnalysis(_ key: AnalysisCacheKey) async throws -> JSONDocument? {
        let rows = try await pool.query(
            """
            SELECT analysis FROM analysis_cache
            WHERE chunk_sha256 = $1 AND analyzer = $2 AND model = $3 AND parameters_hash = $4
            """, [key.chunkSHA256, key.analyzer, key.model, key.parametersHash])
        return try rows.first?.decode(JSONDocument.self, at: 0)
    }

    /// Analyze: caches the analysis, records it on the chunk and adds what was paid to the job, under the
    /// task's lease — once per chunk: when an earlier attempt's write committed although its worker never heard
    /// (the connection dropped with the commit's answer in flight, and the task ran again), the chunk keeps that
    /// analysis and nothing is counted twice.
    public func recordAnalysis(jobID: Int64, index: Int, _ record: AnalysisRecord, lease: Lease) async throws {
        let (key, paid) = (record.cacheKey, record.paid)
        try await TaskQueue.fenced(pool, lease) { connection in
            try await connection.query(
                """
                INSERT INTO analysis_cache
                    (chunk_sha256, analyzer, model, parameters_hash, analysis, prompt_tokens, output_tokens)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) ON CONFLICT DO NOTHING
                """,
                [
                    key.chunkSHA256, key.analyzer, key.model, key.parametersHash, record.relative,
                    record.usage.promptTokens, record.usage.outputTokens,
                ])
            let recorded = try await connection.query(
                """
                UPDATE video_chunks
                SET analysis = $3::jsonb, analyzed_at = now(), analysis_writes = analysis_writes + 1,
                    prompt_tokens = $4, output_tokens = $5, requests = $6
                WHERE job_id = $1 AND chunk_index = $2 AND analyzed_at IS NULL
                """, [jobID, index, record.absolute, paid.promptTokens, paid.outputTokens, paid.requests])
            guard recorded.affectedRows > 0 else { return }
            try await connection.query(
                """
                UPDATE processing_jobs
                SET prompt_tokens = prompt_tokens + $2, output_tokens = output_tokens + $3, requests = requests + $4
                WHERE id = $1
                """, [jobID, paid.promptTokens, paid.outputTokens, paid.requests])
        }
    }
}
