import Foundation
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing

@testable import ReelPipeline

/// The shared budget: a sliding window of calls per key hash in Postgres.
@Suite struct PostgresBudgetTests {
    @Test func requestsBeyondTheBudgetWaitForTheWindowToSlide() async throws {
        let url = try await TestPostgres.migratedDatabase("budget")
        let pool = PostgresPool(url: url, maxConnections: 4)
        let budget = PostgresBudget(
            database: Database(pool: pool, url: url), keyHash: "hash-a", requestsPerWindow: 2, tokensPerWindow: nil,
            window: .milliseconds(600))
        for _ in 0..<5 { _ = try await budget.acquire(tokens: 10) }
        // Two per 600 ms window (by the database's clock, which grants): the third waits for the first to leave it.
        let grants = try await Self.grants(pool, "hash-a")
        #expect(grants.count == 5)
        for index in 2..<grants.count { #expect(grants[index] - grants[index - 2] >= 0.6, "grant \(index): \(grants)") }
        let other = PostgresBudget(
            database: Database(pool: pool, url: url), keyHash: "hash-b", requestsPerWindow: 2, tokensPerWindow: nil,
            window: .seconds(60))
        _ = try await other.acquire(tokens: 1)
        _ = try await other.acquire(tokens: 1)
        let keys = try await pool.query("SELECT DISTINCT key_hash FROM rate_limit_events ORDER BY 1").map {
            try $0.decode(String.self, at: 0)
        }
        #expect(keys == ["hash-a", "hash-b"], "budgets are per key hash")
        await pool.close()
    }

    @Test func tokensCountWithTheirCorrectedCostAndAnOversizedCallStillGoesAlone() async throws {
        let url = try await TestPostgres.migratedDatabase("budget")
        let pool = PostgresPool(url: url, maxConnections: 4)
        let budget = PostgresBudget(
            database: Database(pool: pool, url: url), keyHash: "k", requestsPerWindow: nil, tokensPerWindow: 1000,
            window: .milliseconds(500))
        let first = try await budget.acquire(tokens: 100)
        await budget.record(first, actual: 950)  // the call cost more than estimated
        _ = try await budget.acquire(tokens: 100)  // 950 + 100 > 1000: waits for the first to leave the window
        _ = try await budget.acquire(tokens: 5000)  // more than the whole budget: waits until it is alone, then goes
        let grants = try await Self.grants(pool, "k")
        #expect(grants.count == 3)
        #expect(grants[1] - grants[0] >= 0.5, "\(grants)")
        #expect(grants[2] - grants[1] >= 0.5, "\(grants)")
        await pool.close()
    }

    /// When the budget granted each call, by the database's clock.
    static func grants(_ pool: PostgresPool, _ key: String) async throws -> [Double] {
        try await pool.query(
            "SELECT extract(epoch FROM at)::double precision FROM rate_limit_events WHERE key_hash = $1 ORDER BY id",
            [key]
        ).map { try $0.decode(Double.self, at: 0) }
    }
}
