import Foundation
import ReelPostgres
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelStore

@Suite struct JobStoreTests {
    /// What the Kubernetes backend cleans up an invalid, deleted job with: the spec of its latest generation.
    @Test func lastSpecIsTheLatestGenerationsAndNoneWithoutARow() async throws {
        let pool = PostgresPool(url: try await TestPostgres.migratedDatabase("job-store"), maxConnections: 2)
        let jobs = JobStore(pool: pool)
        let uid = UUID().uuidString
        func last() async throws -> [String: Int]? {
            try await jobs.lastSpec(resourceUID: uid)?.decode([String: Int].self)
        }
        #expect(try await last() == nil)
        for generation in [2, 1, 3, 2] as [Int64] {
            try await jobs.upsertJob(
                resourceUID: uid, namespace: "default", name: "a", generation: generation,
                spec: JSONDocument(text: #"{"generation": \#(generation)}"#))
        }
        try await jobs.upsertJob(
            resourceUID: UUID().uuidString, namespace: "default", name: "b", generation: 9,
            spec: JSONDocument(text: #"{"generation": 9}"#))
        #expect(try await last() == ["generation": 3])
        try await jobs.deleteAll(resourceUID: uid)
        #expect(try await last() == nil)
        await pool.close()
    }
}
