import Foundation
import ReelPostgres
import ReelTestSupport
import Testing

@testable import ReelPipeline

/// The shared budget: a sliding window of calls per key hash in Postgres.
@Suite struct PostgresBudgetTests {
    @Test func requestsBeyondTheBudgetWaitForTheWindowToSlide() async throws {
        let pool = PostgresPool(url: try await TestPostgres.migratedDatabase("budget"), maxConnections: 4)
        let budget = PostgresBudget(pool: pool, keyHash: "hash-a", requestsPerWindow: 2, tokensPerWindow: nil, window: .milliseconds(600))
        let clock = ContinuousClock()
        let start = clock.now
        var grants: [Duration] = []
        for _ in 0..<5 {
            _ = try await budget.acquire(tokens: 10)
            grants.append(clock.now - start)
        }
        // Two per 600 ms window: the third waits for the first to leave it, the fifth for the third.
        for index in 2..<5 { #expect(grants[index] - grants[index - 2] >= .milliseconds(590), "grant \(index): \(grants)") }
        let other = PostgresBudget(pool: pool, keyHash: "hash-b", requestsPerWindow: 2, tokensPerWindow: nil, window: .seconds(60))
        _ = try await other.acquire(tokens: 1)
        _ = try await other.acquire(tokens: 1)
        let keys = try await pool.query("SELECT DISTINCT key_hash FROM rate_limit_events ORDER BY 1").map { try $0.decode(String.self, at: 0) }
        #expect(keys == ["hash-a", "hash-b"], "budgets are per key hash")
        await pool.close()
    }

    @Test func tokensCountWithTheirCorrectedCostAndAnOversizedCallStillGoesAlone() async throws {
        let pool = PostgresPool(url: try await TestPostgres.migratedDatabase("budget"), maxConnections: 4)
        let budget = PostgresBudget(pool: pool, keyHash: "k", requestsPerWindow: nil, tokensPerWindow: 1000, window: .milliseconds(500))
        let first = try await budget.acquire(tokens: 100)
        await budget.record(first, actual: 950)  // the call cost more than estimated
        let clock = ContinuousClock()
        let before = clock.now
        _ = try await budget.acquire(tokens: 100)  // 950 + 100 > 1000: waits for the window
        #expect(clock.now - before >= .milliseconds(400))
        try await Task.sleep(for: .milliseconds(600))
        _ = try await budget.acquire(tokens: 5000)  // alone in the window: allowed
        await pool.close()
    }
}
