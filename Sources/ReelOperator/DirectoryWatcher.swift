import FoundationEssentials
import ReelStore
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Wakes the directory backend when anything under its directories changes, through inotify, on a thread of its
/// own (blocking `poll`, never Swift's cooperative threads). A hint only: the backend also rescans on a timer, so
/// a system without inotify (or out of watches) still sees every change, just later.
final class DirectoryWatcher: Sendable {
    /// Signalled on every batch of events.
    let changed = WakeSignal()
    private let descriptor: Int32
    private let watched = Mutex<Set<String>>([])
    private let stopped = StopSignal()

    /// `nil` when inotify is not available.
    init?() {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        descriptor = fd
        startThread(name: "reel.directory.watch") { [self] in loop() }
    }

    /// Watches `directories` (each one; adding one already watched is a no-op). Returns whether all were added.
    @discardableResult
    func watch(_ directories: [String]) -> Bool {
        let mask = UInt32(
            IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF)
        var ok = true
        for directory in directories where !watched.withLock({ $0.contains(directory) }) {
            if inotify_add_watch(descriptor, directory, mask) >= 0 {
                watched.withLock { _ = $0.insert(directory) }
            } else {
                ok = false
            }
        }
        return ok
    }

    /// Stops the thread and closes the descriptor.
    func stop() { stopped.set() }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stopped.isSet {
            guard stopped.wait(readable: descriptor) else { continue }
            var any = false
            while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 { any = true }
            if any {
                // Directories that were deleted lose their watch; let the next scan add what exists.
                watched.withLock { $0.removeAll() }
                changed.signal()
            }
        }
        close(descriptor)
    }
}
