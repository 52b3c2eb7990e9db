import Foundation
import ReelSupport

/// Diagnostic: with REEL_TEST_WATCHDOG=1, a thread that checks every 250 ms that a task gets a cooperative thread
/// within 3 s, and dumps every thread's stack with gdb when one does not.
enum Watchdog {
    nonisolated(unsafe) static var started = false

    static func start() {
        guard ProcessInfo.processInfo.environment["REEL_TEST_WATCHDOG"] == "1", !started else { return }
        started = true
        let thread = Thread {
            var dumps = 0
            while dumps < 3 {
                let ran = DispatchSemaphore(value: 0)
                Task.detached { ran.signal() }
                if ran.wait(timeout: .now() + 3) == .timedOut {
                    dumps += 1
                    let pid = getpid()
                    let path = "/tmp/reel-watchdog-\(pid)-\(dumps).txt"
                    FileHandle.standardError.write(Data("WATCHDOG stall: dumping to \(path)\n".utf8))
                    _ = ProcessRunner.runBlocking(
                        "/bin/sh", ["-c", "gdb -p \(pid) -batch -ex 'thread apply all bt 25' > \(path) 2>&1"])
                    ran.wait()
                }
                usleep(250_000)
            }
        }
        thread.start()
    }
}
