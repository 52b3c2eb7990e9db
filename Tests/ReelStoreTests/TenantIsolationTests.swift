import Foundation
import ReelAPI
import ReelCore
import ReelPostgres
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

@Suite("Tenants, tokens, audit and the event feed")
struct TenantIsolationTests {
    static func job(_ namespace: String, _ name: String) -> NewResource {
        NewResource(
            key: ResourceKey(kind: VideoJob.names.kind, namespace: namespace, name: name), labels: ["team": "a"],
            annotations: [:], spec: JSONDocument(text: #"{"title":"\#(name)"}"#))
    }

    @Test func theAPIRoleSeesOnlyItsTenantEvenInRawSQL() async throws {
        let url = try await TestPostgres.migratedDatabase("tenants")
        let service = Database(url: url, maxConnections: 2)
        let api = APIDatabase(url: url, maxConnections: 2)
        defer {
            Task {
                await service.close(); await api.close()
            }
        }
        let media = TenantResources(api.tenant("media"))
        let other = TenantResources(api.tenant("other"))
        let created = try await media.create(Self.job("media", "keynote"))
        _ = try await other.create(Self.job("other", "secret"))
        // The service role (operator, workers) sees both; the API role only what its transaction's tenant owns.
        #expect(try await service.resources.list().count == 2)
        #expect(try await media.list(kind: "VideoJob", namespace: "media").map(\.key.name) == ["keynote"])
        #expect(try await media.get(ResourceKey(kind: "VideoJob", namespace: "other", name: "secret")) == nil)
        let raw = try await api.tenant("media").query("SELECT namespace, name FROM resources")
        #expect(try raw.map { try $0.decode(String.self, at: 1) } == ["keynote"])
        // A job row of the other tenant, and its chunks and logs, are invisible too.
        let jobID = try await service.jobs.upsertJob(
            resourceUID: UUID().uuidString, namespace: "other", name: "secret", generation: 1, spec: .emptyObject)
        await service.logs.write(job: jobID, task: nil, level: "info", "hidden", fallback: TestPostgres.logger)
        #expect(try await api.tenant("media").query("SELECT * FROM processing_jobs").count == 0)
        #expect(try await api.tenant("media").query("SELECT * FROM job_logs").count == 0)
        #expect(try await api.tenant("other").query("SELECT * FROM job_logs").count == 1)
        // Without a tenant, nothing at all; and the API role cannot write another tenant's rows.
        #expect(try await api.tenant("").query("SELECT * FROM resources").count == 0)
        await #expect(throws: PostgresError.self) {
            try await api.tenant("media").query(
                """
                INSERT INTO resources (uid, kind, namespace, name, spec)
                VALUES (gen_random_uuid(), 'VideoJob', 'other', 'x', '{}')
                """)
        }
        // Writes bump generation only on spec change, and If-Match guards lost updates.
        var changed = Self.job("media", "keynote")
        changed.labels = ["team": "b"]
        let relabelled = try await media.update(changed, expectedVersion: created.resourceVersion)
        #expect(relabelled.generation == 1 && relabelled.resourceVersion == created.resourceVersion + 1)
        await #expect(throws: ResourceWriteError.self) {
            _ = try await media.update(changed, expectedVersion: created.resourceVersion)
        }
        try await media.delete(created.key)
        #expect(try await media.get(created.key) == nil)
    }

    @Test func tokensAuthenticateUntilRevokedAndTheAuditLogIsAppendOnly() async throws {
        let url = try await TestPostgres.migratedDatabase("tokens")
        let service = Database(url: url, maxConnections: 2)
        let api = APIDatabase(url: url, maxConnections: 2)
        let raw = PostgresPool(url: url, maxConnections: 1)
        defer {
            Task {
                await service.close(); await api.close(); await raw.close()
            }
        }
        let (secret, token) = try await service.tokens.create(
            name: "ci", namespace: "media", role: .editor, expiresIn: nil)
        #expect(secret.hasPrefix("reel_") && token.role == .editor)
        #expect(try await raw.query("SELECT token_hash FROM api_tokens").first!.decode(String.self, at: 0) != secret)
        let first = try #require(try await api.tokens.authenticate(secret))
        #expect(first.namespace == "media" && first.lastUsedAt == nil)  // as it was before this use
        // The use is noted; a busy token is then not written on every request, only once a minute.
        let noted = try #require(try await api.tokens.authenticate(secret)?.lastUsedAt)
        #expect(try await api.tokens.authenticate(secret)?.lastUsedAt == noted)
        await #expect(throws: TokenError.self) {
            _ = try await service.tokens.create(name: "x", namespace: "Bad_NS", role: .viewer, expiresIn: nil)
        }
        #expect(try await api.tokens.authenticate(secret + "x") == nil)
        await #expect(throws: TokenError.self) {
            _ = try await service.tokens.create(name: "ci", namespace: "media", role: .viewer, expiresIn: nil)
        }
        try await service.tokens.revoke(name: "ci", namespace: "media")
        #expect(try await api.tokens.authenticate(secret) == nil)
        let expired = try await service.tokens.create(
            name: "old", namespace: "media", role: .viewer, expiresIn: .seconds(-1))
        #expect(try await api.tokens.authenticate(expired.secret) == nil)

        try await api.tenant("media").appendAudit(
            AuditEntry(
                tokenName: "ci", namespace: "media", verb: "create", resource: "videojobs/x", requestID: "r1",
                clientAddress: "127.0.0.1", code: 201))
        #expect(try await api.tenant("media").audit(after: 0, limit: 10).map(\.verb) == ["create"])
        #expect(try await api.tenant("other").audit(after: 0, limit: 10).isEmpty)
        for statement in ["UPDATE audit_log SET code = 200", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
            await #expect(throws: PostgresError.self, "\(statement)") {
                try await api.tenant("media").query(statement)
            }
            await #expect(throws: PostgresError.self, "\(statement) as the service role") {
                try await raw.query(statement)
            }
        }
    }

    @Test func eventsAreTenantScopedAndResumable() async throws {
        let url = try await TestPostgres.migratedDatabase("events")
        let service = Database(url: url, maxConnections: 2)
        let api = APIDatabase(url: url, maxConnections: 2)
        defer {
            Task {
                await service.close(); await api.close()
            }
        }
        let first = try await service.events.publish(
            namespace: "media", type: "job.added", jobUID: "u1", data: JSONDocument(text: #"{"n":1}"#))
        try await service.events.publish(namespace: "other", type: "job.added", jobUID: "u2", data: .emptyObject)
        let jobID = try await service.jobs.upsertJob(
            resourceUID: "u1", namespace: "media", name: "keynote", generation: 1, spec: .emptyObject)
        await service.logs.write(job: jobID, task: nil, level: "info", "split done", fallback: TestPostgres.logger)
        let seen = try await api.tenant("media").events(after: 0, limit: 10)
        #expect(seen.map(\.type) == ["job.added", "log"])
        #expect(seen[1].data.text.contains("split done") && seen[1].jobUID == "u1")
        #expect(try await api.tenant("media").events(after: first, limit: 10).map(\.type) == ["log"])
        #expect(try await api.tenant("other").events(after: 0, limit: 10).map(\.jobUID) == ["u2"])
    }

    /// A database user that may not create or join the API role migrates (the policies need no role), and the
    /// API's start says what a DBA must do; once done, the next start grants what the role needs.
    @Test func aLeastPrivilegeUserIsToldWhatTheAPIRoleNeeds() async throws {
        let adminURL = try await TestPostgres.database("limited")
        let admin = PostgresPool(url: adminURL, maxConnections: 1)
        let user = "limited_\(UUID().uuidString.prefix(6).lowercased())"
        try await admin.query("CREATE ROLE \(user) LOGIN")
        let database = try await admin.query("SELECT current_database()").first!.decode(String.self, at: 0)
        try await admin.query("ALTER DATABASE \(database) OWNER TO \(user)")
        try await admin.query("GRANT ALL ON SCHEMA public TO \(user)")
        let url = adminURL.hasPrefix("postgres") ? adminURL : adminURL + " user=\(user)"
        try await Database.migrate(url: url, logger: TestPostgres.logger)
        await #expect {
            try await APIDatabase.prepareRole(serviceURL: url)
        } throws: { error in
            "\(error)".contains("CREATE ROLE reel_api NOLOGIN")
        }
        try await admin.query(
            """
            DO $$ BEGIN CREATE ROLE reel_api NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
            """)
        try await admin.query("GRANT reel_api TO \(user)")
        try await APIDatabase.prepareRole(serviceURL: url)
        let api = APIDatabase(url: url, maxConnections: 1)
        #expect(try await TenantResources(api.tenant("media")).list(kind: "VideoJob", namespace: "media").isEmpty)
        await api.close()
        await admin.close()
    }
}
