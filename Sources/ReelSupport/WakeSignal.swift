import Synchronization

/// Wakes waiting workers when new work may be there (a `NOTIFY` arrived). A hint only: waiters also wake after
/// their timeout and look for themselves. Signals are counted, so a waiter that read `generation` before looking
/// at the queue never sleeps through a signal sent meanwhile.
public final class WakeSignal: Sendable {
    private struct State {
        var generation = 0
        var nextID = 0
        /// Waiters by id, in arrival order (ids only grow).
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledEarly: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// How many signals have been sent.
    public var generation: Int { state.withLock { $0.generation } }

    /// How many callers are waiting now.
    public var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Wakes up to `limit` waiters, longest-waiting first (all by default). Waking one per hint, and letting a
    /// worker that found a full batch wake the next, avoids a thundering herd of claims on a single task.
    public func signal(waking limit: Int = .max) {
        let waiters = state.withLock { state in
            state.generation += 1
            let ids = state.waiters.keys.sorted().prefix(limit)
            return ids.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when a signal after `generation` has been sent, or after `timeout`, or on cancellation.
    public func wait(after generation: Int, timeout: Duration) async {
        guard self.generation == generation else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal(after: generation) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal(after generation: Int) async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.generation != generation || state.cancelledEarly.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.cancelledEarly.insert(id)
                    return nil as CheckedContinuation<Void, Never>?
                }
                return waiter
            }
            waiter?.resume()
        }
    }
}
