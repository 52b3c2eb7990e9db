import FoundationEssentials

/// Where blocking calls run: libavformat reading a file, libcurl waiting on the network, a file hashed, a child
/// waited for. Never on Swift's cooperative threads nor on a dispatch queue — on Linux Swift's tasks run on
/// libdispatch's few threads, and a handful of long blocking calls there starves every task of the process.
///
/// A bounded set of threads of its own: started as work arrives (never more than `maxThreads`), reused while there
/// is work, and ended after `idleTimeout` without any. Work beyond `maxThreads` waits its turn in order.
public final class BlockingExecutor: BlockingSubmitter, @unchecked Sendable {
    /// For thread names and diagnostics.
    public let name: String
    public let maxThreads: Int
    public let idleTimeout: Duration

    // Guarded by `condition`.
    private let condition = ConditionLock()
    private var pending: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private var threads = 0
    private var peak = 0

    public init(name: String, maxThreads: Int, idleTimeout: Duration = .seconds(30)) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.idleTimeout = idleTimeout
    }

    /// Media work (probe, split, render, scene detection): a few at a time per core.
    public static let media = BlockingExecutor(
        name: "reel.media", maxThreads: 4 * ProcessInfo.processInfo.activeProcessorCount)
    /// File system work (copies, hashes, renames).
    public static let files = BlockingExecutor(name: "reel.files", maxThreads: 16)
    /// Waits for child processes, each as long as the child lives.
    public static let children = BlockingExecutor(name: "reel.reaper", maxThreads: 512)
    /// Network transfers, which last as long as the network takes (a watch for minutes).
    public static let network = BlockingExecutor(name: "reel.http", maxThreads: 256)
    /// libpq calls, each connection's in a `SerialLane` of its own; a statement holds a thread only while it runs.
    public static let database = BlockingExecutor(name: "reel.postgres", maxThreads: 64)

    /// Threads running now, and the most there have been at once.
    public var threadCount: (now: Int, peak: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (threads, peak)
    }

    /// Queues `work` without waiting for it.
    public func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(work)
        let waiting = pending.count - head
        if waiting > idle && threads < maxThreads {
            threads += 1
            peak = max(peak, threads)
            startThread(name: name) { [self] in loop() }
        }
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            while head == pending.count {
                idle += 1
                let woken = condition.wait(timeout: idleTimeout)
                idle -= 1
                if !woken && head == pending.count {
                    threads -= 1
                    condition.unlock()
                    return
                }
            }
            let work = pending[head]
            head += 1
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            work()
            condition.lock()
        }
    }
}

/// Somewhere blocking work can be sent: an executor, or a lane on one.
public protocol BlockingSubmitter: Sendable {
    /// Queues `work` without waiting for it.
    func submit(_ work: @escaping @Sendable () -> Void)
}

extension BlockingSubmitter {
    /// Runs `work` there and returns what it returned (or throws what it threw).
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            submit {
                do throws(E) { continuation.resume(returning: .success(try work())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
