/// Resumable uploads (migration 7): one row per upload, in the tenant's namespace and confined to it like every
/// other API table. `received` counts the bytes the store holds durably; `partial` is the store's own record
/// (S3's multipart upload and its parts); `writer` is the request that may append, until `writer_until`.
enum UploadSchema {
    static let sql = """
        CREATE TABLE uploads (
            id text PRIMARY KEY,
            namespace text NOT NULL,
            owner text NOT NULL,
            filename text NOT NULL,
            filetype text,
            length bigint CHECK (length >= 0),
            received bigint NOT NULL DEFAULT 0,
            metadata jsonb NOT NULL DEFAULT '{}',
            object_key text NOT NULL,
            partial jsonb NOT NULL DEFAULT '{}',
            state text NOT NULL DEFAULT 'receiving' CHECK (state IN ('receiving', 'complete', 'invalid')),
            reason text,
            message text,
            media jsonb,
            job_uid text,
            job_name text,
            writer text,
            writer_until timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            completed_at timestamptz
        );
        CREATE INDEX uploads_namespace ON uploads (namespace, created_at DESC);
        CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE state = 'receiving';
        ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON uploads USING (namespace = current_setting('reel.tenant', true));
        \(APISchema.prepareRoleFunction(grants: APISchema.grants + "\n" + grants))
        SELECT reel_prepare_api_role();
        """

    static let grants = "GRANT SELECT, INSERT, UPDATE, DELETE ON uploads TO \(APISchema.role);"
}
