import Foundation
import ReelAnalysis
import ReelPostgres

/// A request and token budget per API key, shared by every worker process and pod through Postgres: a sliding
/// window of billable calls in `rate_limit_events`, examined and extended under a transaction-scoped advisory
/// lock on the key's hash, with the database's clock.
public struct PostgresBudget: RequestBudget {
    let pool: PostgresPool
    /// SHA-256 of the API key.
    public let keyHash: String
    public let requestsPerWindow: Int?
    public let tokensPerWindow: Int?
    /// 60 s for "per minute" budgets.
    public let window: Duration

    public init(
        pool: PostgresPool, keyHash: String, requestsPerWindow: Int?, tokensPerWindow: Int?,
        window: Duration = .seconds(60)
    ) {
        self.pool = pool
        self.keyHash = keyHash
        self.requestsPerWindow = requestsPerWindow
        self.tokensPerWindow = tokensPerWindow
        self.window = window
    }

    public func acquire(tokens: Int) async throws -> Int64 {
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        while true {
            let outcome: (ticket: Int64?, wait: Double) = try await pool.transaction { [self] connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", [keyHash])
                // Keep an hour (or ten windows) of grants for inspection; count only the current window.
                try await connection.query(
                    "DELETE FROM rate_limit_events WHERE key_hash = $1 AND at <= clock_timestamp() - "
                        + "make_interval(secs => greatest($2::double precision * 10, 3600))",
                    [keyHash, seconds])
                let row = try await connection.query(
                    """
                    SELECT count(*)::bigint, coalesce(sum(tokens), 0)::bigint,
                           coalesce(extract(epoch FROM min(at) + make_interval(secs => $2) - clock_timestamp()), 0)
                               ::double precision
                    FROM rate_limit_events WHERE key_hash = $1 AND at > clock_timestamp() - make_interval(secs => $2)
                    """, [keyHash, seconds]
                ).first!
                let count: Int = try row.decode(at: 0)
                let used: Int = try row.decode(at: 1)
                let untilOldestLeaves: Double = try row.decode(at: 2)
                let requestsFit = requestsPerWindow.map { count + 1 <= $0 } ?? true
                // A single call larger than the whole token budget still goes, alone.
                let tokensFit = tokensPerWindow.map { used + tokens <= $0 || count == 0 } ?? true
                guard requestsFit && tokensFit else { return (nil, max(0.01, untilOldestLeaves)) }
                let ticket = try await connection.query(
                    "INSERT INTO rate_limit_events (key_hash, tokens) VALUES ($1, $2) RETURNING id", [keyHash, tokens])
                return (try ticket.first!.decode(Int64.self, at: 0), 0)
            }
            if let ticket = outcome.ticket { return ticket }
            try await Task.sleep(for: .milliseconds(Int(outcome.wait * 1000) + Int.random(in: 1...20)))
        }
    }

    public func record(_ ticket: Int64, actual: Int) async {
        _ = try? await pool.query("UPDATE rate_limit_events SET tokens = $2 WHERE id = $1", [ticket, actual])
    }
}
