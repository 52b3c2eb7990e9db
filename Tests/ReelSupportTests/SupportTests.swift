import Foundation
import ReelTestSupport
import Synchronization
import Testing

@testable import ReelSupport

@Suite("Blocking executor, backoff, hashes")
struct SupportTests {
    final class Tally: Sendable {
        let state = Mutex((running: 0, most: 0, results: [Int]()))
    }

    /// Work runs on at most `maxThreads` threads; what does not fit waits its turn and still runs.
    @Test func theExecutorRunsAtMostItsThreadsAtOnceAndQueuesTheRest() async throws {
        let executor = BlockingExecutor(name: "test", maxThreads: 3, idleTimeout: .milliseconds(200))
        let gate = DispatchSemaphore(value: 0)
        let tally = Tally()
        // Submitted from here, not from a task each: on a loaded machine the cooperative threads were once busy
        // elsewhere for the whole wait below, so only the first task had submitted its work when it ended (CI).
        for index in 0..<12 {
            executor.submit {
                tally.state.withLock {
                    $0.running += 1
                    $0.most = max($0.most, $0.running)
                }
                gate.wait()
                tally.state.withLock {
                    $0.running -= 1
                    $0.results.append(index * index)
                }
            }
        }
        // Three are inside and blocked; nothing else can start until one leaves.
        let full = try await BackgroundProcess.eventually(timeout: .seconds(20)) {
            tally.state.withLock { $0.running } == 3
        }
        #expect(full)
        #expect(executor.threadCount.now == 3)
        for _ in 0..<12 { gate.signal() }
        let finished = try await BackgroundProcess.eventually(timeout: .seconds(20)) {
            tally.state.withLock { $0.results.count } == 12
        }
        #expect(finished)
        #expect(tally.state.withLock { $0.results.sorted() } == (0..<12).map { $0 * $0 })
        #expect(tally.state.withLock { $0.most } == 3)
        #expect(executor.threadCount.peak == 3)
    }

    /// Idle threads end after the idle timeout; the executor starts new ones for later work.
    @Test func idleThreadsEndAndComeBackForNewWork() async throws {
        let executor = BlockingExecutor(name: "test", maxThreads: 2, idleTimeout: .milliseconds(50))
        #expect(await executor.run { 1 } == 1)
        let ended = try await BackgroundProcess.eventually(timeout: .seconds(10)) { executor.threadCount.now == 0 }
        #expect(ended, "the idle thread did not end")
        #expect(await executor.run { 2 } == 2)
    }

    @Test func errorsComeBackTyped() async {
        struct Failure: Error, Equatable {}
        let executor = BlockingExecutor(name: "test", maxThreads: 1)
        await #expect(throws: Failure()) { try await executor.run { () throws(Failure) -> Int in throw Failure() } }
    }

    /// A lane runs its work one piece at a time in submission order, while other lanes run beside it.
    @Test func aLaneRunsItsWorkInOrderOneAtATimeBesideOtherLanes() async {
        let executor = BlockingExecutor(name: "test", maxThreads: 4)
        let lanes = (0..<3).map { _ in SerialLane(on: executor) }
        final class Record: Sendable {
            let log = Mutex([[Int]](repeating: [], count: 3))
            let inside = Mutex([Int](repeating: 0, count: 3))
            let overlapped = Mutex(false)
        }
        let record = Record()
        let across = Tally()
        await withTaskGroup(of: Void.self) { group in
            for (number, lane) in lanes.enumerated() {
                // Submitted in order from one task, as a connection's statements are.
                group.addTask {
                    await withTaskGroup(of: Void.self) { pieces in
                        for index in 0..<200 {
                            lane.submit {
                                record.inside.withLock { $0[number] += 1 }
                                across.state.withLock {
                                    $0.running += 1
                                    $0.most = max($0.most, $0.running)
                                }
                                if record.inside.withLock({ $0[number] }) > 1 {
                                    record.overlapped.withLock { $0 = true }
                                }
                                record.log.withLock { $0[number].append(index) }
                                usleep(100)
                                across.state.withLock { $0.running -= 1 }
                                record.inside.withLock { $0[number] -= 1 }
                            }
                        }
                        pieces.addTask { await lane.run {} }
                    }
                }
            }
        }
        #expect(!record.overlapped.withLock { $0 })
        #expect(record.log.withLock { $0 } == [[Int]](repeating: Array(0..<200), count: 3))
        #expect(across.state.withLock { $0.most } > 1, "lanes never ran side by side")
    }

    /// Reservations wait in order until their bytes fit; one larger than the budget runs alone.
    @Test func aByteBudgetAdmitsInOrderWhatFits() async throws {
        let budget = ByteBudget(limit: 100)
        await budget.reserve(60)
        final class Box: Sendable { let order = Mutex<[String]>([]) }
        let box = Box()
        let second = Task {
            await budget.reserve(50)
            box.order.withLock { $0.append("50") }
        }
        let waited = try await BackgroundProcess.eventually(timeout: .seconds(10)) { budget.waiting == 1 }
        #expect(waited && budget.reserved == 60)
        let third = Task {
            await budget.reserve(10)  // fits, but waits behind the 50 that came first
            box.order.withLock { $0.append("10") }
        }
        let queued = try await BackgroundProcess.eventually(timeout: .seconds(10)) { budget.waiting == 2 }
        #expect(queued)
        budget.release(60)
        await second.value
        await third.value
        #expect(box.order.withLock { $0 } == ["50", "10"] && budget.reserved == 60)
        budget.release(50)
        budget.release(10)
        // Larger than the whole budget: admitted once nothing else is held.
        await budget.withReservation(500) { #expect(budget.reserved == 500) }
        #expect(budget.reserved == 0)
    }

    @Test func backoffDoublesWithinItsJitterBandUpToTheCap() {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(60))
        #expect(backoff.delay(after: 1, spread: 0.5) == .milliseconds(500))
        #expect(backoff.delay(after: 3, spread: 0.5) == .seconds(2))
        #expect(backoff.delay(after: 3, spread: 0) == .milliseconds(1600))
        #expect(backoff.delay(after: 3, spread: 1) == .milliseconds(2400))
        #expect(backoff.delay(after: 40, spread: 1) == .seconds(60))
        #expect(Backoff(initial: .seconds(1), maximum: .seconds(5), jitter: 0).delay(after: 0) == .seconds(1))
    }

    @Test func hexAndSHA256MatchTheStandardVectors() {
        #expect(hexString([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Duration.milliseconds(1500).seconds == 1.5)
    }
}
