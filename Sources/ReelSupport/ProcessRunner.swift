import Dispatch
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a helper program to completion without blocking a Swift concurrency thread.
///
/// Foundation's `Process` on Linux learns of a child's exit through a socket the child inherits, so a program
/// that leaves a daemon behind (`pg_ctl start`) never "exits". This spawns with `posix_spawn`, closes every
/// inherited descriptor above stderr, sends output to a temporary file, and reaps the child with `waitpid` on a
/// dispatch thread.
public enum ProcessRunner {
    /// How a program ended and what it printed (standard output and error together).
    public struct Output: Sendable {
        public var status: Int32
        public var output: String
    }

    /// How a program ended and what it printed on standard output and standard error, apart.
    public struct Captured: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String

        /// Standard output's non-empty lines.
        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable` with `arguments`; standard output and error are captured together.
    public static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("reel-run-\(UUID().uuidString)")
            .path
        defer { unlink(outputPath) }
        let pid = try spawn(executable, arguments, outputPath: outputPath)
        let status = await waitForExit(pid)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Output(status: status, output: text)
    }

    /// Runs `executable` with `arguments` in `directory` (this process's own when `nil`), with exactly
    /// `environment` (this process's when `nil`), and captures standard output and error apart (through files: no
    /// pipe can fill up and stall the program).
    public static func capture(
        _ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil
    ) async throws -> Captured {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("reel-run-\(UUID().uuidString)").path
        let (outPath, errPath) = (base + ".out", base + ".err")
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let pid = try spawn(
            executable, arguments, outputPath: outPath, errorPath: errPath, directory: directory,
            environment: environment ?? [:], replaceEnvironment: environment != nil)
        let status = await waitForExit(pid)
        return Captured(
            status: status,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    /// Runs `executable` and blocks the calling thread until it exits: for process exit handlers only.
    public static func runBlocking(_ executable: String, _ arguments: [String]) -> Int32 {
        let outputPath = "/dev/null"
        guard let pid = try? spawn(executable, arguments, outputPath: outputPath) else { return -1 }
        return reap(pid)
    }

    /// Starts `executable` without waiting for it: standard input from /dev/null, standard output and error
    /// appended to `outputPath`, `environment` added to this process's own. Returns the child's pid; collect it
    /// with `waitForExit`.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], outputPath: String
    ) throws -> Int32 {
        try spawn(executable, arguments, outputPath: outputPath, append: true, environment: environment)
    }

    /// Waits for a child started with `start` and returns its exit status (128 + signal when a signal ended it).
    /// The wait blocks a thread for the child's lifetime (`BlockingExecutor.children`): not a dispatch thread,
    /// which on Linux Swift's tasks share (a few long-lived workers there starved every task of the process).
    public static func waitForExit(_ pid: Int32) async -> Int32 {
        await BlockingExecutor.children.run { reap(pid) }
    }

    /// Waits for `pid` and returns its exit status (128 + signal when killed).
    private static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, spelled out (they are macros).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static func spawn(
        _ executable: String, _ arguments: [String], outputPath: String, errorPath: String? = nil,
        directory: String? = nil, append: Bool = false, environment: [String: String] = [:],
        replaceEnvironment: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &actions, 1, outputPath, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let directory {
            guard let addChdir = addChdir else {
                throw SpawnError(description: "cannot run \(executable) in \(directory): this libc cannot spawn there")
            }
            addChdir(&actions, directory)
        }
        // Close everything else the child would inherit (glibc ignores descriptors closed meanwhile).
        let inherited = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap(
            Int32.init)
        for fd in inherited where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }

        // The child starts with no signal blocked and every signal at its default action: threads of this process
        // (Swift's executors, dispatch) block SIGTERM and friends, and a child inheriting that mask would ignore a
        // polite stop.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result: Int32
        if environment.isEmpty && !replaceEnvironment {
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        } else {
            var merged = replaceEnvironment ? [:] : ProcessInfo.processInfo.environment
            merged.merge(environment) { _, new in new }
            let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard result == 0 else {
            throw SpawnError(description: "cannot run \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), which the Glibc module does not declare.
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
        unsafeBitCast($0, to: AddChdir.self)
    }
}
