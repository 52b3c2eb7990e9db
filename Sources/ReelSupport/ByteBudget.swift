import Synchronization

/// A budget of bytes (a worker's scratch space): `reserve` waits, in order of arrival, until the bytes fit under
/// the limit. A reservation larger than the whole budget waits until nothing else is reserved and then runs
/// alone, so that it is slow rather than stuck.
public final class ByteBudget: Sendable {
    private struct Waiter {
        var bytes: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var reserved = 0
        var waiters: [Waiter] = []
    }

    public let limit: Int
    private let state = Mutex(State())

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Bytes reserved now.
    public var reserved: Int { state.withLock { $0.reserved } }

    /// Reservations waiting now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    private func fits(_ bytes: Int, _ state: State) -> Bool {
        state.reserved == 0 || state.reserved + bytes <= limit
    }

    /// Waits until `bytes` fit, then holds them until `release`.
    public func reserve(_ bytes: Int) async {
        guard bytes > 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                guard state.waiters.isEmpty, fits(bytes, state) else {
                    state.waiters.append(Waiter(bytes: bytes, continuation: continuation))
                    return false
                }
                state.reserved += bytes
                return true
            }
            if granted { continuation.resume() }
        }
    }

    /// Gives `bytes` back and lets in as many waiters, in order, as now fit.
    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let admitted = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.reserved -= bytes
            var admitted: [CheckedContinuation<Void, Never>] = []
            while let first = state.waiters.first, fits(first.bytes, state) {
                state.reserved += first.bytes
                admitted.append(state.waiters.removeFirst().continuation)
            }
            return admitted
        }
        for continuation in admitted { continuation.resume() }
    }

    /// Runs `body` holding `bytes`.
    public func withReservation<T>(_ bytes: Int, _ body: () async throws -> T) async rethrows -> T {
        await reserve(bytes)
        defer { release(bytes) }
        return try await body()
    }
}
