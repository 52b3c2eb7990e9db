import Synchronization

/// Work that must run one piece at a time, in the order it was submitted, on a `BlockingExecutor`: a libpq
/// connection, which no two threads may use at once. The lane holds an executor thread only while it has work, so
/// a thousand idle lanes cost nothing, and a lane with work never waits for another lane's.
public final class SerialLane: BlockingSubmitter {
    private struct State {
        var pending: [@Sendable () -> Void] = []
        var head = 0
        var running = false
    }

    private let executor: BlockingExecutor
    private let state = Mutex(State())

    public init(on executor: BlockingExecutor) { self.executor = executor }

    /// Queues `work` behind what the lane already holds, without waiting for it.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        let start = state.withLock { state in
            state.pending.append(work)
            defer { state.running = true }
            return !state.running
        }
        if start { executor.submit { [self] in drain() } }
    }

    /// Runs the lane's work until none is left; the lock hand-off orders each piece after the one before it, on
    /// whichever thread ran that one.
    private func drain() {
        while true {
            let next = state.withLock { state -> (@Sendable () -> Void)? in
                guard state.head < state.pending.count else {
                    state.pending.removeAll(keepingCapacity: true)
                    state.head = 0
                    state.running = false
                    return nil
                }
                defer { state.head += 1 }
                return state.pending[state.head]
            }
            guard let next else { return }
            next()
        }
    }
}
