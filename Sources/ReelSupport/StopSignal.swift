import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A stop request for a thread that blocks in `poll` on a descriptor of its own: the thread polls `descriptor` (an
/// eventfd that becomes readable once the signal is set) beside its own, with no timeout. Polling with a timeout
/// only to look at a flag woke each such thread ten times a second in an otherwise idle process.
public final class StopSignal: Sendable {
    private let flag = Mutex(false)
    /// Readable from the moment the signal is set; -1 if the system had no pipe to give (then waits time out
    /// every `fallbackTimeout` and look at the flag).
    public let descriptor: Int32
    private let writeEnd: Int32
    private static let fallbackTimeout: Int32 = 100

    public init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        } else {
            ends = [-1, -1]
        }
        (descriptor, writeEnd) = (ends[0], ends[1])
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            close(writeEnd)
        }
    }

    public var isSet: Bool { flag.withLock { $0 } }

    /// Sets the signal; every wait returns from then on.
    public func set() {
        guard
            flag.withLock({ was in
                defer { was = true }; return !was
            }), writeEnd >= 0
        else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Blocks until `fd` is readable, the signal is set or `timeout` passes (nil: no timeout). Returns whether `fd`
    /// is readable (or in error: the caller's next read says which).
    public func wait(readable fd: Int32, timeout: Duration? = nil) -> Bool {
        var descriptors = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        return block(on: &descriptors, until: timeout.map { ContinuousClock.now + $0 })
    }

    /// Sleeps for `duration` unless the signal is set first; returns whether it is set.
    public func sleep(for duration: Duration) -> Bool {
        var none: [pollfd] = []
        _ = block(on: &none, until: ContinuousClock.now + duration)
        return isSet
    }

    /// Polls `descriptors` and the signal's own until one of `descriptors` is readable (true), or the signal is set
    /// or `deadline` passes (false).
    private func block(on descriptors: inout [pollfd], until deadline: ContinuousClock.Instant?) -> Bool {
        let own = descriptors.count
        if descriptor >= 0 { descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        while !isSet {
            var wait = descriptor >= 0 ? Int32.max : Self.fallbackTimeout
            if let deadline {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return false }
                // Rounded up, so a wait never ends just short of its deadline and spins.
                wait = min(
                    wait,
                    Int32(
                        clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                            + 1))
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), wait == .max ? -1 : wait)
            if ready < 0 && errno != EINTR { return own > 0 }
            if ready > 0 && descriptors.prefix(own).contains(where: { $0.revents != 0 }) { return true }
        }
        return false
    }
}
