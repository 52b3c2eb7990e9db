/// Migration 12: the queue's tie to its jobs, checked once per statement instead of once per row.
enum QueueSchema {
    static let perStatementJobs = """
        -- The foreign key checked every task's job with a SELECT … FOR KEY SHARE of its own: a quarter of an
        -- enqueue's time in the server, for a thousand tasks of one job. These triggers do what it did per
        -- statement: an insert's jobs must exist and stay until it commits; a job's deletion takes its tasks.
        ALTER TABLE job_queue DROP CONSTRAINT job_queue_job_id_fkey;

        CREATE FUNCTION reel_job_queue_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing bigint;
        BEGIN
            -- The key-share lock blocks the job's deletion until this commits; a deletion committed first leaves
            -- no row to lock (read committed reads the latest version), and the insert fails.
            SELECT n.job_id INTO missing
            FROM (SELECT DISTINCT job_id FROM inserted_tasks) n
            LEFT JOIN LATERAL (
                SELECT true AS found FROM processing_jobs p WHERE p.id = n.job_id FOR KEY SHARE
            ) j ON true
            WHERE j.found IS NULL
            LIMIT 1;
            IF FOUND THEN
                RAISE foreign_key_violation USING
                    MESSAGE = format('a task names job %s, which does not exist', missing),
                    DETAIL = format('Key (job_id)=(%s) is not present in table "processing_jobs".', missing),
                    TABLE = 'job_queue';
            END IF;
            -- Wake-ups: the stages that have new tasks, and the jobs whose tasks changed.
            PERFORM pg_notify('\(TaskQueue.queueChannel)', stage) FROM (SELECT DISTINCT stage FROM inserted_tasks) s;
            PERFORM pg_notify('\(TaskQueue.jobsChannel)', job_id::text)
            FROM (SELECT DISTINCT job_id FROM inserted_tasks) j;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER job_queue_inserted AFTER INSERT ON job_queue REFERENCING NEW TABLE AS inserted_tasks
            FOR EACH STATEMENT EXECUTE FUNCTION reel_job_queue_inserted();

        CREATE FUNCTION reel_processing_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Through job_queue_identity (led by job_id) whatever the statistics: = ANY of an array, not a join.
            DELETE FROM job_queue WHERE job_id = ANY(ARRAY(SELECT id FROM deleted_jobs));
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER processing_jobs_deleted AFTER DELETE ON processing_jobs REFERENCING OLD TABLE AS deleted_jobs
            FOR EACH STATEMENT EXECUTE FUNCTION reel_processing_jobs_deleted();
        """
}
