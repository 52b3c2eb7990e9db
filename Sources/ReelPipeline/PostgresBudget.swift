import FoundationEssentials
import Logging
import ReelAnalysis
import ReelStore
import ReelSupport

/// A request and token budget per API key, shared by every worker process and pod through the database's
/// `RateLimitLedger`.
public struct PostgresBudget: RequestBudget {
    let ledger: RateLimitLedger
    /// SHA-256 of the API key.
    public let keyHash: String
    public let requestsPerWindow: Int?
    public let tokensPerWindow: Int?
    /// 60 s for "per minute" budgets.
    public let window: Duration
    let logger: Logger

    public init(
        database: Database, keyHash: String, requestsPerWindow: Int?, tokensPerWindow: Int?,
        window: Duration = .seconds(60), logger: Logger = Logger(label: "reel.budget")
    ) {
        self.ledger = database.rateLimits
        self.keyHash = keyHash
        self.requestsPerWindow = requestsPerWindow
        self.tokensPerWindow = tokensPerWindow
        self.window = window
        self.logger = logger
    }

    public func acquire(tokens: Int) async throws -> Int64 {
        let seconds = window.seconds
        while true {
            let reservation = try await ledger.reserve(
                keyHash: keyHash, tokens: tokens, requestsPerWindow: requestsPerWindow,
                tokensPerWindow: tokensPerWindow, windowSeconds: seconds)
            if let ticket = reservation.ticket { return ticket }
            try await Task.sleep(for: .milliseconds(Int(reservation.waitSeconds * 1000) + Int.random(in: 1...20)))
        }
    }

    /// Corrects the grant to what the call used. The grant stays as estimated when the database cannot be
    /// reached: the budget errs on the side of waiting.
    public func record(_ ticket: Int64, actual: Int) async {
        do {
            try await ledger.settle(ticket, tokens: actual)
        } catch {
            logger.warning("cannot record the tokens of rate-limit grant \(ticket): \(error)")
        }
    }
}
