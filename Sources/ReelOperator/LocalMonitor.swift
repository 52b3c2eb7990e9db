import Foundation
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Shows each VideoJob's progress (a redrawn block of lines on a terminal, a log line per change otherwise) and,
/// for `--until-done`, ends once every VideoJob is terminal for its current generation.
public final class LocalMonitor: Service {
    /// How the run ended.
    public enum Outcome: Int32, Sendable {
        case succeeded = 0
        case failed = 1
        case timedOut = 2
    }

    let table: ResourceTable
    let backend: DirectoryBackend
    let untilDone: Bool
    let timeout: Duration?
    let terminal: Bool
    let logger: Logger
    private let result = Mutex<Outcome?>(nil)
    private let shown = Mutex<(text: [String], last: [String: String])>(([], [:]))

    public init(
        table: ResourceTable, backend: DirectoryBackend, untilDone: Bool, timeout: Duration?, logger: Logger,
        terminal: Bool = isatty(STDOUT_FILENO) == 1
    ) {
        self.table = table
        self.backend = backend
        self.untilDone = untilDone
        self.timeout = timeout
        self.logger = logger
        self.terminal = terminal
    }

    /// How the run ended (`nil` while running or when not waiting for completion).
    public var outcome: Outcome? { result.withLock { $0 } }

    public func run() async throws {
        let started = ContinuousClock.now
        while !Task.isCancelledOrShuttingDown {
            if let timeout, ContinuousClock.now - started > timeout {
                logger.error("timed out after \(timeout) with jobs still running")
                result.withLock { $0 = .timedOut }
                return
            }
            do {
                let jobs = try await table.list(kind: VideoJob.names.kind).filter { $0.deletionTimestamp == nil }
                let views = try jobs.map { try $0.videoJob() }
                show(views)
                if untilDone, backend.scans > 0, let outcome = try await finished(views) {
                    result.withLock { $0 = outcome }
                    return
                }
            } catch {
                logger.warning("progress read failed: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(300))
        }
    }

    private func finished(_ jobs: [VideoJob]) async throws -> Outcome? {
        var failed = false
        for job in jobs {
            guard let status = job.status, status.observedGeneration == job.metadata.generation,
                let phase = status.phase, phase.isFinished
            else { return nil }
            // An expired job counts as it ended.
            if phase == .Failed || status.conditions?.first(where: { $0.type == "Succeeded" })?.status == .false {
                failed = true
            }
        }
        let problems = try await table.problems()
        if !problems.isEmpty {
            logger.error("\(problems.count) problem(s) in the resource files; see above or `reel get videojobs`")
        }
        return failed || !problems.isEmpty ? .failed : .succeeded
    }

    /// One line per job: name, phase, progress, chunks, and the reason when it failed.
    static func line(_ job: VideoJob) -> String {
        let status = job.status
        let phase = status?.phase?.rawValue ?? "Pending"
        let chunks = status?.chunks.map { " chunks \($0.analyzed)/\($0.total)" } ?? ""
        var text =
            "\(job.metadata.effectiveNamespace)/\(job.metadata.name)  \(phase)  \(status?.progress ?? 0)%\(chunks)"
        if phase == "Failed", let condition = status?.conditions?.first(where: { $0.type == "Succeeded" }) {
            text += "  \(condition.reason): \(condition.message)"
        }
        return text
    }

    private func show(_ jobs: [VideoJob]) {
        let lines = jobs.map { (key: "\($0.metadata.effectiveNamespace)/\($0.metadata.name)", line: Self.line($0)) }
        if terminal {
            let output = shown.withLock { state -> String? in
                let text = lines.map(\.line)
                guard text != state.text else { return nil }
                var output = state.text.isEmpty ? "" : "\u{1B}[\(state.text.count)F"
                for line in text { output += "\u{1B}[2K" + line + "\n" }
                state.text = text
                return output
            }
            if let output { FileHandle.standardOutput.write(Data(output.utf8)) }
        } else {
            let changed = shown.withLock { state -> [String] in
                let changed = lines.filter { state.last[$0.key] != $0.line }.map(\.line)
                for line in lines { state.last[line.key] = line.line }
                return changed
            }
            if !changed.isEmpty { FileHandle.standardOutput.write(Data(changed.map { $0 + "\n" }.joined().utf8)) }
        }
    }
}
