import Logging
import ReelPostgres

/// One schema change, applied once, in its own transaction.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var sql: String
}

/// Reel's schema, versioned and embedded in the binary. Migrations run under an advisory lock, so two
/// processes migrating at once take turns, and applying them again is a no-op.
public enum Migrator {
    /// The advisory lock key ("reel" in ASCII).
    static let lockKey: Int64 = 0x7265_656C

    /// Applies every migration not yet recorded in `schema_migrations`; returns the versions applied.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query("SELECT pg_advisory_lock($1)", [lockKey])
        do {
            try await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let applied = Set(
                try await connection.query("SELECT version FROM schema_migrations").map {
                    try $0.decode(Int.self, at: 0)
                })
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                logger.info(
                    "applying migration", metadata: ["reel.migration": "\(migration.version) \(migration.name)"])
                try await connection.transaction { connection in
                    try await connection.execute(migration.sql)
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        [migration.version, migration.name])
                }
                done.append(migration.version)
            }
            try await connection.query("SELECT pg_advisory_unlock($1)", [lockKey])
            return done
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock($1)", [lockKey])
            throw error
        }
    }

    /// Every migration, in order.
    public static let all: [Migration] = [
        Migration(
            version: 1, name: "jobs, chunks, queue, logs",
            sql: """
                CREATE TABLE processing_jobs (
                    id bigserial PRIMARY KEY,
                    resource_uid text NOT NULL,
                    namespace text NOT NULL,
                    name text NOT NULL,
                    generation bigint NOT NULL,
                    spec jsonb NOT NULL,
                    phase text NOT NULL DEFAULT 'Pending',
                    progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
                    source_bytes bigint,
                    source_sha256 text,
                    source_duration double precision,
                    source_streams jsonb,
                    error_reason text,
                    error_message text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    started_at timestamptz,
                    finished_at timestamptz,
                    UNIQUE (resource_uid, generation)
                );
                CREATE INDEX processing_jobs_resource ON processing_jobs (namespace, name);

                CREATE TABLE video_chunks (
                    job_id bigint NOT NULL REFERENCES processing_jobs (id) ON DELETE CASCADE,
                    chunk_index integer NOT NULL CHECK (chunk_index >= 0),
                    start_seconds double precision NOT NULL,
                    start_numerator bigint,
                    start_denominator bigint,
                    duration_seconds double precision NOT NULL,
                    duration_numerator bigint,
                    duration_denominator bigint,
                    bytes bigint NOT NULL,
                    sha256 text NOT NULL,
                    storage_key text NOT NULL,
                    analysis jsonb,
                    analyzed_at timestamptz,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (job_id, chunk_index)
                );

                CREATE TABLE job_queue (
                    id bigserial PRIMARY KEY,
                    job_id bigint NOT NULL REFERENCES processing_jobs (id) ON DELETE CASCADE,
                    generation bigint NOT NULL,
                    stage text NOT NULL,
                    chunk_index integer,
                    priority smallint NOT NULL DEFAULT 2,
                    state text NOT NULL DEFAULT 'available'
                        CHECK (state IN ('available', 'running', 'retryable', 'succeeded', 'discarded', 'cancelled')),
                    attempt integer NOT NULL DEFAULT 0,
                    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
                    backoff_seconds double precision NOT NULL DEFAULT 5,
                    max_backoff_seconds double precision NOT NULL DEFAULT 600,
                    run_at timestamptz NOT NULL DEFAULT now(),
                    lease_owner text,
                    lease_token uuid,
                    lease_expires_at timestamptz,
                    heartbeat_at timestamptz,
                    progress real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
                    payload jsonb NOT NULL DEFAULT '{}',
                    last_error text,
                    errors jsonb NOT NULL DEFAULT '[]',
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    started_at timestamptz,
                    finished_at timestamptz
                );
                -- Enqueueing is idempotent on (job, generation, stage, chunk); a job-level task has no chunk.
                CREATE UNIQUE INDEX job_queue_identity
                    ON job_queue (job_id, generation, stage, (coalesce(chunk_index, -1)));
                -- Claims scan only ready rows, in claim order.
                CREATE INDEX job_queue_ready ON job_queue (priority, run_at, id)
                    WHERE state IN ('available', 'retryable');
                CREATE INDEX job_queue_leases ON job_queue (lease_expires_at) WHERE state = 'running';
                -- A job's tasks are found through job_queue_identity, which leads with job_id: no separate index to
                -- maintain on every state change.
                CREATE INDEX job_queue_finished ON job_queue (finished_at)
                    WHERE state IN ('succeeded', 'discarded', 'cancelled');
                -- The queue churns: vacuum and analyze it long before the 20 % defaults.
                ALTER TABLE job_queue SET (
                    autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 500,
                    autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0, fillfactor = 90
                );

                CREATE TABLE job_logs (
                    id bigserial PRIMARY KEY,
                    job_id bigint REFERENCES processing_jobs (id) ON DELETE CASCADE,
                    task_id bigint,
                    level text NOT NULL,
                    message text NOT NULL,
                    fields jsonb NOT NULL DEFAULT '{}',
                    correlation_id text,
                    logged_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX job_logs_job ON job_logs (job_id, logged_at);
                """),
        Migration(
            version: 2, name: "workers, resources, analysis cache",
            sql: """
                CREATE TABLE workers (
                    id text PRIMARY KEY,
                    stages text[] NOT NULL,
                    hostname text NOT NULL,
                    pid integer NOT NULL,
                    started_at timestamptz NOT NULL DEFAULT now(),
                    heartbeat_at timestamptz NOT NULL DEFAULT now(),
                    tasks_completed bigint NOT NULL DEFAULT 0,
                    tasks_failed bigint NOT NULL DEFAULT 0,
                    stats jsonb NOT NULL DEFAULT '{}'
                );

                CREATE TABLE resources (
                    uid uuid PRIMARY KEY,
                    kind text NOT NULL,
                    namespace text NOT NULL,
                    name text NOT NULL,
                    generation bigint NOT NULL DEFAULT 1,
                    resource_version bigint NOT NULL DEFAULT 1,
                    metadata jsonb NOT NULL DEFAULT '{}',
                    spec jsonb NOT NULL,
                    status jsonb,
                    finalizers text[] NOT NULL DEFAULT '{}',
                    deletion_timestamp timestamptz,
                    source_file text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (kind, namespace, name)
                );

                CREATE TABLE analysis_cache (
                    chunk_sha256 text NOT NULL,
                    analyzer text NOT NULL,
                    model text NOT NULL DEFAULT '',
                    parameters_hash text NOT NULL,
                    analysis jsonb NOT NULL,
                    prompt_tokens integer,
                    output_tokens integer,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (chunk_sha256, analyzer, model, parameters_hash)
                );
                """),
        Migration(
            version: 3, name: "pipeline facts, failure reasons, manifest problems",
            sql: """
                ALTER TABLE processing_jobs ADD COLUMN outputs jsonb NOT NULL DEFAULT '{}';
                ALTER TABLE processing_jobs ADD COLUMN source_key text;
                ALTER TABLE processing_jobs ADD COLUMN source_name text;
                ALTER TABLE job_queue ADD COLUMN last_reason text;
                -- How many times a chunk's analysis was written: fenced writes keep it at one per generation.
                ALTER TABLE video_chunks ADD COLUMN analysis_writes integer NOT NULL DEFAULT 0;
                ALTER TABLE workers ADD COLUMN pool text;
                ALTER TABLE workers ADD COLUMN stopped_at timestamptz;
                CREATE INDEX job_logs_task ON job_logs (task_id);

                -- Files of the YAML-directory backend that do not parse or validate, with every problem.
                CREATE TABLE manifest_problems (
                    file text PRIMARY KEY,
                    problems jsonb NOT NULL,
                    seen_at timestamptz NOT NULL DEFAULT now()
                );
                """),
        Migration(
            version: 4, name: "analysis cost ledger, shared rate limits",
            sql: """
                -- What each chunk's analysis cost in this job (0 when the cache answered).
                ALTER TABLE video_chunks ADD COLUMN prompt_tokens integer NOT NULL DEFAULT 0;
                ALTER TABLE video_chunks ADD COLUMN output_tokens integer NOT NULL DEFAULT 0;
                ALTER TABLE video_chunks ADD COLUMN requests integer NOT NULL DEFAULT 0;
                -- The job's total, kept in the same fenced transaction as each chunk's.
                ALTER TABLE processing_jobs ADD COLUMN prompt_tokens bigint NOT NULL DEFAULT 0;
                ALTER TABLE processing_jobs ADD COLUMN output_tokens bigint NOT NULL DEFAULT 0;
                ALTER TABLE processing_jobs ADD COLUMN requests bigint NOT NULL DEFAULT 0;

                -- Billable calls per API key (by hash, never the key) in the last window, for budgets shared by every
                -- worker process and pod.
                CREATE TABLE rate_limit_events (
                    id bigserial PRIMARY KEY,
                    key_hash text NOT NULL,
                    at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    tokens integer NOT NULL
                );
                CREATE INDEX rate_limit_events_key ON rate_limit_events (key_hash, at);

                -- When a worker stopped claiming (shutdown began); it may still be finishing tasks until stopped_at.
                ALTER TABLE workers ADD COLUMN draining_at timestamptz;
                """),
        Migration(
            version: 5, name: "render facts",
            sql: """
                -- What the render stage made: {"mode", "frames", "seconds", "fallbackReason"?}; the reconciler
                -- reports it.
                ALTER TABLE processing_jobs ADD COLUMN render_facts jsonb;
                """),
        Migration(version: 6, name: "HTTP front door: origins, tokens, audit, events, tenants", sql: APISchema.sql),
        Migration(version: 7, name: "resumable uploads", sql: UploadSchema.sql),
        Migration(version: 8, name: "output claims", sql: OutputClaims.sql),
        Migration(version: 9, name: "resource change feed", sql: ResourceTable.changesSQL),
        Migration(
            version: 10, name: "queue indexes whose plans do not depend on statistics",
            sql: """
                -- A claim walks one stage's ready tasks in claim order, whatever else waits: with the stage first
                -- the index hands them over in order, and no plan sorts the backlog (which the old index, led by
                -- priority, left the planner free to do when it thought a stage rare).
                DROP INDEX job_queue_ready;
                CREATE INDEX job_queue_ready ON job_queue (stage, priority, run_at, id)
                    WHERE state IN ('available', 'retryable');
                -- The same running tasks as before (only they hold a lease expiry), but a fenced write's
                -- "state = 'running'" no longer matches the predicate: with statistics taken while nothing ran,
                -- the planner read this whole index instead of the primary key.
                DROP INDEX job_queue_leases;
                CREATE INDEX job_queue_leases ON job_queue (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
                """),
        Migration(
            version: 11, name: "no index of finished tasks",
            sql: """
                -- Every completion added an entry here, and only TaskQueue.prune, a maintenance call Reel itself
                -- never makes (a job's tasks go with the job), read it: burn-down ran about 8 % faster without it.
                DROP INDEX IF EXISTS job_queue_finished;
                """),
        Migration(version: 12, name: "jobs of queued tasks checked per statement", sql: QueueSchema.perStatementJobs),
    ]
}
