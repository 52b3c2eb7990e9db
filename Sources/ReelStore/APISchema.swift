/// The schema of the HTTP front door (migration 6): where a resource came from, API tokens, the audit log, the
/// event feed behind Server-Sent Events, idempotency keys, and the `reel_api` role with the row-level security
/// policies that confine it to one tenant (a namespace, `reel.tenant`, set per transaction).
enum APISchema {
    /// The role the API's connections take: no `BYPASSRLS`, not the owner of any table.
    static let role = "reel_api"

    static let sql = """
        -- file: declared by a file of the resources directory; api: created over HTTP. The directory backend
        -- never deletes what it did not read from a file.
        ALTER TABLE resources ADD COLUMN origin text NOT NULL DEFAULT 'file' CHECK (origin IN ('file', 'api'));
        CREATE INDEX resources_listing ON resources (namespace, kind, created_at DESC);

        -- Bearer tokens: only the SHA-256 of the secret is kept.
        CREATE TABLE api_tokens (
            id bigserial PRIMARY KEY,
            name text NOT NULL,
            namespace text NOT NULL,
            role text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
            token_hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz,
            last_used_at timestamptz,
            UNIQUE (namespace, name)
        );

        -- Every mutating call and every token change; append-only for everyone.
        CREATE TABLE audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            token_name text,
            namespace text NOT NULL,
            verb text NOT NULL,
            resource text NOT NULL,
            request_id text,
            client_address text,
            code integer NOT NULL
        );
        CREATE INDEX audit_log_namespace ON audit_log (namespace, id);
        CREATE FUNCTION reel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION reel_audit_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION reel_audit_append_only();

        -- The feed behind /api/events: ids are monotonic and become visible in order (one publisher at a time
        -- until its transaction ends), so a client that resumes after id N misses nothing.
        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            namespace text NOT NULL,
            type text NOT NULL,
            job_uid text,
            data jsonb NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX events_namespace ON events (namespace, id);
        CREATE INDEX events_at ON events (at);
        CREATE FUNCTION reel_publish(p_namespace text, p_type text, p_job text, p_data jsonb) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE new_id bigint;
        BEGIN
            PERFORM pg_advisory_xact_lock(\(EventLog.orderLock));
            INSERT INTO events (namespace, type, job_uid, data) VALUES (p_namespace, p_type, p_job, p_data)
                RETURNING id INTO new_id;
            PERFORM pg_notify('\(EventLog.channel)', p_namespace || ' ' || new_id);
            RETURN new_id;
        END $$;
        -- Every job log line is an event of its job's namespace.
        CREATE FUNCTION reel_log_event() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE job record;
        BEGIN
            SELECT namespace, name, resource_uid INTO job FROM processing_jobs WHERE id = NEW.job_id;
            IF FOUND THEN
                PERFORM reel_publish(job.namespace, 'log', job.resource_uid, jsonb_build_object(
                    'id', NEW.id, 'uid', job.resource_uid, 'name', job.name, 'level', NEW.level,
                    'message', NEW.message, 'fields', NEW.fields, 'time', NEW.logged_at));
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER job_logs_events AFTER INSERT ON job_logs FOR EACH ROW EXECUTE FUNCTION reel_log_event();

        -- POST /api/workers {"action":"drain"}: the worker sees it on its next heartbeat, stops claiming, finishes
        -- and exits.
        ALTER TABLE workers ADD COLUMN drain_requested_at timestamptz;

        -- POST /api/jobs with an Idempotency-Key: the first answer, replayed for 24 hours.
        CREATE TABLE idempotency_keys (
            namespace text NOT NULL,
            key text NOT NULL,
            request_hash text NOT NULL,
            status integer,
            response jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (namespace, key)
        );

        -- The API role and its grants, in a function every API server calls at start (`APIDatabase.prepare`): a
        -- database user that may not create roles gets a clear error then, and once a DBA has created the role
        -- (CREATE ROLE \(role) NOLOGIN; GRANT \(role) TO <user>) the next start grants what it needs.
        \(prepareRoleFunction(grants: grants))
        SELECT reel_prepare_api_role();

        -- The tenant is `reel.tenant`, set per transaction; unset, nothing is visible. The policies bind every role
        -- but the tables' owner (the service role, which operator and workers use) and superusers.
        ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
        ALTER TABLE processing_jobs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE video_chunks ENABLE ROW LEVEL SECURITY;
        ALTER TABLE job_queue ENABLE ROW LEVEL SECURITY;
        ALTER TABLE job_logs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
        ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON resources
            USING (namespace = current_setting('reel.tenant', true));
        CREATE POLICY tenant ON processing_jobs
            USING (namespace = current_setting('reel.tenant', true));
        CREATE POLICY tenant ON events
            USING (namespace = current_setting('reel.tenant', true));
        CREATE POLICY tenant ON audit_log
            USING (namespace = current_setting('reel.tenant', true));
        CREATE POLICY tenant ON idempotency_keys
            USING (namespace = current_setting('reel.tenant', true));
        -- A chunk, task or log line belongs to the tenant whose job it is (processing_jobs is itself confined).
        CREATE POLICY tenant ON video_chunks
            USING (EXISTS (SELECT 1 FROM processing_jobs p WHERE p.id = job_id));
        CREATE POLICY tenant ON job_queue
            USING (EXISTS (SELECT 1 FROM processing_jobs p WHERE p.id = job_id));
        CREATE POLICY tenant ON job_logs
            USING (EXISTS (SELECT 1 FROM processing_jobs p WHERE p.id = job_id));
        """

    /// What the API role may do on the tables of migration 6.
    static let grants = """
        GRANT SELECT ON processing_jobs, video_chunks, job_queue, job_logs, workers, events TO \(role);
        GRANT SELECT, INSERT, UPDATE, DELETE ON resources, idempotency_keys TO \(role);
        GRANT SELECT, INSERT ON audit_log TO \(role);
        GRANT USAGE ON SEQUENCE audit_log_id_seq TO \(role);
        GRANT SELECT, UPDATE (last_used_at) ON api_tokens TO \(role);
        GRANT UPDATE (drain_requested_at) ON workers TO \(role);
        """

    /// The function every API server calls at start (`APIDatabase.prepareRole`): creates the role if it may,
    /// makes the service user a member, grants `grants`. Later migrations replace it with more grants.
    static func prepareRoleFunction(grants: String) -> String {
        """
        CREATE OR REPLACE FUNCTION reel_prepare_api_role() RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(role)') THEN
                BEGIN
                    CREATE ROLE \(role) NOLOGIN NOBYPASSRLS;
                EXCEPTION
                    WHEN duplicate_object OR unique_violation THEN NULL;  -- another database made it meanwhile
                    WHEN insufficient_privilege THEN RETURN 'cannot create the role \(role)';
                END;
            END IF;
            IF NOT pg_has_role(current_user, '\(role)', 'MEMBER') THEN
                BEGIN
                    EXECUTE format('GRANT \(role) TO %I', current_user);
                EXCEPTION WHEN insufficient_privilege THEN
                    RETURN format('cannot grant the role \(role) to %I', current_user);
                END;
            END IF;
            \(grants.split(separator: "\n").joined(separator: "\n    "))
            RETURN '';
        END $$;
        """
    }
}
