import Foundation
import ReelSupport

/// Diagnostic for a test run (`REEL_TEST_WATCHDOG=1 swift test`), started with the first test database: a thread
/// that checks every 250 ms that a new task gets a cooperative thread within 3 s and, when one does not, writes
/// every thread's stack to `/tmp/reel-watchdog-PID-N.txt` with gdb (three times at most). gdb stops the process
/// while it reads the stacks, so a test waiting on a deadline then may fail: for finding what holds the threads,
/// not for CI.
enum Watchdog {
    static let enabled = ProcessInfo.processInfo.environment["REEL_TEST_WATCHDOG"] == "1"
    nonisolated(unsafe) static var started = false

    static func start() {
        guard enabled, !started else { return }
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
