/// Exponential backoff with jitter: `initial` doubling per attempt up to `maximum`, spread over ±`jitter` (a
/// fraction) so that many clients that failed together do not retry together.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before attempt `attempt + 1` (`attempt` ≥ 1 failed so far); `spread` in 0…1 picks the point
    /// within the jitter band (random by default; tests pin it).
    public func delay(after attempt: Int, spread: Double = .random(in: 0...1)) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let exponential = min(maximum.seconds, initial.seconds * Double(1 << doublings))
        let factor = 1 - jitter + 2 * jitter * min(1, max(0, spread))
        // Whole microseconds: no floating-point dust (2.4000000000000004 s) in delays people read.
        return .microseconds(Int64((min(maximum.seconds, exponential * factor) * 1e6).rounded()))
    }
}
