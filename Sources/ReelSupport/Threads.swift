#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A mutex with a condition variable (POSIX), for the few places that park OS threads: the blocking executor's
/// idle threads, and waits for threads started to do blocking work. Timed waits use the monotonic clock, so a
/// change of the wall clock neither shortens nor stretches them.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Wakes one waiting thread.
    public func signal() { pthread_cond_signal(condition) }
    /// Wakes every waiting thread.
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits, the lock held, until woken.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits, the lock held, until woken or `timeout` has passed; false when it timed out.
    public func wait(timeout: Duration) -> Bool {
        var deadline = timespec()
        #if canImport(Glibc)
            clock_gettime(CLOCK_MONOTONIC, &deadline)
        #else
            clock_gettime(CLOCK_REALTIME, &deadline)
        #endif
        let (seconds, attoseconds) = timeout.components
        var nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }

    /// Runs `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// Starts an OS thread (not one of Swift's or Dispatch's) that runs `body`, named `name` (15 bytes at most show).
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let start = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
    #if canImport(Glibc)
        var thread = pthread_t()
    #else
        var thread: pthread_t?
    #endif
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&thread, &attributes, runThreadStart, start)
    pthread_attr_destroy(&attributes)
    precondition(rc == 0, "pthread_create: \(rc)")
}

private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

private func runThreadStart(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let start = Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue()
    #if canImport(Glibc)
        // pthread_setname_np is a GNU extension Glibc's module leaves out; this is what it does.
        let file = open("/proc/thread-self/comm", O_WRONLY)
        if file >= 0 {
            let name = Array(start.name.utf8.prefix(15))
            _ = name.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
            close(file)
        }
    #endif
    start.body()
    return nil
}
