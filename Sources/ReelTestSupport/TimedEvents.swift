import Synchronization
import ReelSupport

/// Reads an async sequence on a task of its own so that each element can be awaited with a time limit: a test
/// waiting for an event that never comes fails after the limit instead of hanging the run.
public final class TimedEvents<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Result<Element?, any Error>] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Result<Element?, any Error>?, Never>)?
        var nextID = 0
    }

    private let state = Mutex(State())
    private let reader = Mutex<Task<Void, Never>?>(nil)

    /// The limit `next()` waits when given none.
    public let limit: Duration

    public init<S: AsyncSequence & Sendable>(_ sequence: S, limit: Duration = .seconds(60)) where S.Element == Element {
        self.limit = limit
        let task = Task { [weak self] in
            do {
                for try await element in sequence { self?.deliver(.success(element)) }
                self?.deliver(.success(nil))
            } catch {
                self?.deliver(.failure(error))
            }
        }
        reader.withLock { $0 = task }
    }

    deinit { reader.withLock { $0?.cancel() } }

    /// The next element, nil when the sequence ended; throws the sequence's error, or `TimeLimitExceeded` when
    /// nothing came within `limit`.
    public func next(within limit: Duration? = nil) async throws -> Element? {
        let limit = limit ?? self.limit
        let outcome: Result<Element?, any Error>? = await withCheckedContinuation { continuation in
            let id: Int? = state.withLock { state in
                if !state.buffer.isEmpty {
                    continuation.resume(returning: state.buffer.removeFirst())
                    return nil
                }
                state.nextID += 1
                state.waiter = (state.nextID, continuation)
                return state.nextID
            }
            guard let id else { return }
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                self?.expire(id)
            }
        }
        guard let outcome else { throw TimeLimitExceeded(limit: limit) }
        return try outcome.get()
    }

    private func deliver(_ outcome: Result<Element?, any Error>) {
        state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.continuation.resume(returning: outcome)
            } else {
                state.buffer.append(outcome)
            }
        }
    }

    private func expire(_ id: Int) {
        state.withLock { state in
            guard let waiter = state.waiter, waiter.id == id else { return }
            state.waiter = nil
            waiter.continuation.resume(returning: nil)
        }
    }
}

/// Nothing arrived within the limit.
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "nothing arrived within \(limit)" }
}
