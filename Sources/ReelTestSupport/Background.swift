import Foundation
import ReelStore
import ReelSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A program running in the background (`reel local`, a worker, a test HTTP server), started with
/// ReelStore's ProcessRunner (Foundation's `Process` cannot tell when a program that leaves a daemon behind
/// exits). Output goes to a file the test can read while it runs.
public final class BackgroundProcess: Sendable {
    public let pid: Int32
    public let outputPath: String
    private let exit: Task<Int32, Never>
    private let ended: ExitFlag

    /// Starts `executable` with `arguments`; `environment` is added to this process's own.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], outputPath: String)
        throws
    {
        let pid = try ProcessRunner.start(executable, arguments, environment: environment, outputPath: outputPath)
        self.pid = pid
        self.outputPath = outputPath
        let ended = ExitFlag()
        self.ended = ended
        self.exit = Task {
            let status = await ProcessRunner.waitForExit(pid)
            ended.set()
            return status
        }
    }

    /// Whether it has exited (and been waited for).
    public var hasExited: Bool { ended.value }

    /// Whether a signal has stopped it (`SIGSTOP`, sent or raised): state `T` in `/proc/PID/stat`.
    public var isStopped: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.range(of: ")", options: .backwards)
        else { return false }
        return stat[close.upperBound...].split(separator: " ").first == "T"
    }

    /// What it has printed so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Its exit status (128 + signal when a signal ended it).
    public func wait() async -> Int32 { await exit.value }

    /// Sends `signal`.
    public func send(_ signal: Int32) { kill(pid, signal) }

    /// The port it says it listens on: the digits after `marker` and a colon in its output. A program told to
    /// listen on port 0 names the port the kernel gave it, so a test never races other programs for a port it
    /// picked in advance. Waits for that line; throws with the output when the program exits or `timeout` passes
    /// first.
    public func announcedPort(after marker: String, timeout: Duration = .seconds(120)) async throws -> Int {
        var port: Int?
        await Self.eventually(timeout: timeout) {
            port = Self.port(after: marker, in: self.output)
            return port != nil || self.hasExited
        }
        guard let port else {
            // Reel says where it listens at level info: a REEL_LOG_LEVEL above that hides it.
            let why = hasExited ? "exited" : "did not say within \(timeout)"
            throw SampleMedia.Failure(description: "\(outputPath): \(why) where it listens (\(marker)): \(output)")
        }
        return port
    }

    /// The number after the first `marker:` in `text`, once something other than a digit follows it (a line
    /// written halfway through a port is not read as a shorter port).
    static func port(after marker: String, in text: String) -> Int? {
        guard let start = text.range(of: marker + ":")?.upperBound else { return nil }
        let rest = text[start...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard digits.count < rest.count, let port = Int(digits), (1...65535).contains(port) else { return nil }
        return port
    }

    /// Waits until `condition` holds, checking every 50 ms, for at most `timeout`; returns whether it held.
    /// (Used where the only signal is a file or a row: the check is the signal, the timeout a safety net.)
    @discardableResult
    public static func eventually(timeout: Duration = .seconds(120), _ condition: () async throws -> Bool)
        async rethrows -> Bool
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

extension BackgroundProcess {
    /// The port of the REST API of `reel local`/`reel operator`/`reel serve` started with `--api-addr 127.0.0.1:0`.
    public func apiPort() async throws -> Int { try await announcedPort(after: "serving the API on http://127.0.0.1") }

    /// The ports of `reel operator --health-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0`.
    public func healthAndMetricsPorts() async throws -> (health: Int, metrics: Int) {
        (
            try await announcedPort(after: "serving /healthz, /readyz on 127.0.0.1"),
            try await announcedPort(after: "serving /metrics on 127.0.0.1")
        )
    }
}

/// Set once, read from anywhere.
private final class ExitFlag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

extension ReelPaths {
    /// The Python with the test tools (opentimelineio): `$REEL_PYTHON`, else the venv hack/setup.sh makes.
    public static var python: String {
        let environment = ProcessInfo.processInfo.environment
        if let python = environment["REEL_PYTHON"], !python.isEmpty { return python }
        let tools = environment["REEL_TOOLS_DIR"] ?? (NSHomeDirectory() + "/.cache/reel")
        return tools + "/venv/bin/python"
    }
}
