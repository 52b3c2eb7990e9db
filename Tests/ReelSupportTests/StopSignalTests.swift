import Foundation
import ReelSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The listener and directory-watcher threads block in `StopSignal.wait` with no timeout (they used to poll every
/// 100–250 ms to look at a flag): setting the signal must end such a wait, and data on the descriptor must too.
@Suite("StopSignal")
struct StopSignalTests {
    private final class Entered: Sendable { let value = Atomic(false) }

    /// Runs `body` on a thread of its own (it blocks) and returns its result.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    private func makePipe() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        return (ends[0], ends[1])
    }

    @Test func anUntimedWaitEndsWhenTheSignalIsSet() async {
        let signal = StopSignal()
        #expect(signal.descriptor >= 0)
        let (readEnd, writeEnd) = makePipe()
        defer { close(readEnd); close(writeEnd) }
        let entered = Entered()
        async let readable = onThread {
            entered.value.store(true, ordering: .releasing)
            return signal.wait(readable: readEnd)
        }
        while !entered.value.load(ordering: .acquiring) { await Task.yield() }
        signal.set()
        #expect(await readable == false)
        #expect(signal.isSet)
        // Once set, every wait returns at once, and setting again is harmless.
        signal.set()
        #expect(signal.wait(readable: readEnd) == false)
        #expect(signal.sleep(for: .seconds(3600)))
    }

    @Test func anUntimedWaitEndsWhenItsDescriptorIsReadable() async {
        let signal = StopSignal()
        let (readEnd, writeEnd) = makePipe()
        defer { close(readEnd); close(writeEnd) }
        async let readable = onThread { signal.wait(readable: readEnd) }
        var byte: UInt8 = 7
        #expect(write(writeEnd, &byte, 1) == 1)
        #expect(await readable)
        #expect(!signal.isSet)
    }

    @Test func timedWaitsAndSleepsEndAtTheirDeadline() {
        let signal = StopSignal()
        let (readEnd, writeEnd) = makePipe()
        defer { close(readEnd); close(writeEnd) }
        let start = ContinuousClock.now
        #expect(signal.wait(readable: readEnd, timeout: .milliseconds(30)) == false)
        #expect(signal.sleep(for: .milliseconds(30)) == false)
        #expect(ContinuousClock.now - start >= .milliseconds(60))
    }
}
