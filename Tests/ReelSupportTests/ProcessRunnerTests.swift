import Foundation
import ReelSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("ProcessRunner")
struct ProcessRunnerTests {
    /// A child starts with every signal deliverable, whatever this thread blocks: SIGTERM stops it. (Children
    /// used to inherit the blocked SIGTERM of the spawning thread and outlive the tests that stopped them.)
    @Test func childrenStopOnSIGTERMEvenFromAThreadThatBlocksIt() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("reel-spawn-\(UUID().uuidString).log")
            .path
        defer { unlink(log) }
        var blocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let pid = try ProcessRunner.start("/bin/sleep", ["60"], outputPath: log)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        let status = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/status")), as: UTF8.self)
        let mask = status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
        #expect(mask == "SigBlk:\t0000000000000000", "\(mask ?? "")")
        kill(pid, SIGTERM)
        #expect(await ProcessRunner.waitForExit(pid) == 128 + SIGTERM)
    }
}
