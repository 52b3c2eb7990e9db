import FoundationEssentials
import ReelCore
import ReelAPI
import ReelSupport

/// The reconciler's queue of keys, like client-go's: a key waiting is queued once however often it is added; a
/// key being processed is not handed out again until `done`, and if it was added meanwhile it comes back after.
/// Failed keys come back after a per-key exponential backoff.
public actor WorkQueue<Key: Hashable & Sendable> {
    /// Waiting keys from `head` on: taking one is O(1) (`removeFirst` moved every other key, and 10,000 waiting
    /// keys made the first pass over 10,000 jobs quadratic).
    private var queue: [Key] = []
    private var head = 0
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var delayed: [Key: ContinuousClock.Instant] = [:]
    private var shutDown = false
    public let baseDelay: Duration
    public let maxDelay: Duration

    public init(baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(60)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Keys waiting (not counting those being processed).
    public var depth: Int { queue.count - head }

    /// Every key waiting or being processed.
    public var pending: Set<Key> { dirty.union(processing) }

    /// Queues `key` unless it is already waiting.
    public func add(_ key: Key) {
        guard !shutDown, !dirty.contains(key) else { return }
        dirty.insert(key)
        delayed[key] = nil
        if processing.contains(key) { return }
        if !waiters.isEmpty {
            waiters.removeFirst().resume(returning: key)
            dirty.remove(key)
            processing.insert(key)
        } else {
            queue.append(key)
        }
    }

    /// Queues every key in `keys`.
    public func add(_ keys: some Sequence<Key>) { for key in keys { add(key) } }

    /// The next key to process; `nil` once shut down.
    public func next() async -> Key? {
        if let key = popDue() { return key }
        if shutDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func popDue() -> Key? {
        guard head < queue.count else { return nil }
        let key = queue[head]
        head += 1
        if head == queue.count {
            // A burst (every job at start) leaves its room behind unless let go: 1.6 MB for 10,000 keys.
            queue.removeAll(keepingCapacity: queue.capacity <= 1024)
            head = 0
        } else if head >= 1024, head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        dirty.remove(key)
        if dirty.isEmpty, dirty.capacity > 1024 { dirty = [] }
        processing.insert(key)
        return key
    }

    /// Marks `key` processed; a key added meanwhile is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if dirty.contains(key) {
            dirty.remove(key)
            add(key)
        }
    }

    /// Forgets the failures of `key` (it succeeded).
    public func forget(_ key: Key) { failures[key] = nil }

    /// The delay before `key` is retried after another failure: base·2^(n−1), capped (no jitter: a key is
    /// retried by this process alone).
    public func backoff(for key: Key) -> Duration {
        let count = (failures[key] ?? 0) + 1
        failures[key] = count
        return Backoff(initial: baseDelay, maximum: maxDelay, jitter: 0).delay(after: count)
    }

    /// Signalled when a key is delayed to an instant earlier than any other delayed key's: the caller's timer,
    /// which calls `promoteDue` and sleeps until the instant it returns, looks again.
    public nonisolated let delayedChanged = WakeSignal()
    /// No later than the earliest delayed instant (a key queued early may leave it earlier: the timer then wakes
    /// once for nothing); nil when nothing was delayed since the last `promoteDue`.
    private var earliestDelayed: ContinuousClock.Instant?

    /// Queues `key` at `instant` (the caller's timer calls `promoteDue`).
    public func add(_ key: Key, at instant: ContinuousClock.Instant) {
        if let existing = delayed[key], existing <= instant { return }
        delayed[key] = instant
        if earliestDelayed.map({ instant < $0 }) ?? true {
            earliestDelayed = instant
            delayedChanged.signal()
        }
    }

    /// Moves delayed keys that are due into the queue; returns the next due instant, if any.
    @discardableResult
    public func promoteDue(now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant? {
        for (key, instant) in delayed where instant <= now {
            delayed[key] = nil
            add(key)
        }
        earliestDelayed = delayed.values.min()
        return earliestDelayed
    }

    /// Takes keys again after a `shutdown` (a leader that lost and regained its lease).
    public func reopen() { shutDown = false }

    /// Stops handing out keys; waiting `next()` calls return `nil`.
    public func shutdown() {
        shutDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}

extension WorkQueue where Key == ResourceKey {
    /// Queues the VideoJobs among `keys` (what the reconciler reconciles; pools are the autoscaler's).
    public func addVideoJobs(_ keys: [ResourceKey]) { add(keys.filter { $0.kind == VideoJob.names.kind }) }
}
