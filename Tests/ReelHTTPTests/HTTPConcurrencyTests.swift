import Foundation
import ReelHTTP
import ReelTestSupport
import Synchronization
import Testing

/// Transfers block for as long as the network takes; many of them at once must keep neither another transfer nor
/// Swift's own tasks from running. (On Linux Swift's tasks run on libdispatch's threads: transfers parked on a
/// dispatch queue once starved the whole process: idle streams opened at one a second, timers waited as long.)
@Suite struct HTTPConcurrencyTests {
    final class Gate: Sendable {
        private let open = Mutex(false)
        private let waiting = Mutex(0)
        var isOpen: Bool { open.withLock { $0 } }
        var held: Int { waiting.withLock { $0 } }
        func release() { open.withLock { $0 = true } }
        func enter() { waiting.withLock { $0 += 1 } }
    }

    @Test func aRequestCompletesWhileFourDozenIdleStreamsAreOpen() async throws {
        let gate = Gate()
        let server = try TestHTTPServer { request in
            if request.path == "/watch" {
                return .stream(status: 200, headers: []) { write in
                    gate.enter()
                    while !gate.isOpen { usleep(10_000) }
                    return write(Data("done\n".utf8))
                }
            }
            return .response(status: 200, headers: [], body: Data("pong".utf8))
        }
        defer { server.stop() }
        let streams = 48
        let started = ContinuousClock.now
        let watchers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<streams {
                    group.addTask {
                        do {
                            for try await _ in HTTPClient.stream(
                                HTTPRequest(url: server.baseURL + "/watch", timeout: nil))
                            {}
                        } catch {}
                    }
                }
            }
        }
        // Every stream is open and idle on the server…
        let open = await BackgroundProcess.eventually(timeout: .seconds(30)) { gate.held == streams }
        #expect(open, "only \(gate.held) of \(streams) streams reached the server")
        // …and an ordinary request still goes through. The timeout only turns starvation into a failure: on its own
        // thread the request takes milliseconds; behind a shared dispatch pool it waited ~20 s here.
        let answer = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                let response = try? await HTTPClient.send(
                    HTTPRequest(url: server.baseURL + "/ping", timeout: .seconds(20)))
                return response.map { String(decoding: $0.body, as: UTF8.self) }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(answer == "pong")
        // Not a speed claim: milliseconds on threads of their own (seconds in a loaded full run) against ~47 s when
        // starved; 30 s tells them apart on any machine.
        #expect(
            ContinuousClock.now - started < .seconds(30),
            "streams and the request took \(ContinuousClock.now - started)")
        gate.release()
        await watchers.value
    }
}
