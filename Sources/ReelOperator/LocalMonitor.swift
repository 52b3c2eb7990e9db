import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ServiceLifecycle
import Synchronization
import ReelSupport

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
    /// Whether the directory has been read once (then an empty table means no jobs, not jobs not read yet).
    let scanned: @Sendable () async -> Bool
    let untilDone: Bool
    let timeout: Duration?
    let terminal: Bool
    let logger: Logger
    private let result = Mutex<Outcome?>(nil)
    private let shown = Mutex<(text: [String], last: [String: String])>(([], [:]))

    public convenience init(
        table: ResourceTable, backend: DirectoryBackend, untilDone: Bool, timeout: Duration?, logger: Logger,
        terminal: Bool = isatty(STDOUT_FILENO) == 1
    ) {
        self.init(
            table: table, scanned: { backend.scans > 0 }, untilDone: untilDone, timeout: timeout, logger: logger,
            terminal: terminal)
    }

    init(
        table: ResourceTable, scanned: @escaping @Sendable () async -> Bool, untilDone: Bool, timeout: Duration?,
        logger: Logger, terminal: Bool
    ) {
        self.table = table
        self.scanned = scanned
        self.untilDone = untilDone
        self.timeout = timeout
        self.logger = logger
        self.terminal = terminal
    }

    /// How the run ended (`nil` while running or when not waiting for completion).
    public var outcome: Outcome? { result.withLock { $0 } }

    /// What the monitor keeps of a job: its display line and whether it has ended.
    struct Entry {
        var resourceVersion: Int64
        var key: String
        var line: String
        /// `nil` while it still runs in its current generation.
        var ended: Outcome?
    }

    public func run() async throws {
        let started = ContinuousClock.now
        // Read only what changed since the last read: a pass costs what changed, not what exists.
        var cursor: ResourceCursor?
        var jobs: [String: Entry] = [:]
        var decided = false
        while !Task.isCancelledOrShuttingDown {
            if let timeout, ContinuousClock.now - started > timeout {
                logger.error("timed out after \(timeout) with jobs still running")
                result.withLock { $0 = .timedOut }
                return
            }
            do {
                // Whether the directory had been read before the table is: asked after, a scan that finished in
                // between made an empty read look like a directory without jobs, and `--until-done` ended at once.
                let directoryRead = untilDone ? await scanned() : false
                let changes = try await table.changes(kind: VideoJob.names.kind, since: cursor)
                let changed = try Self.apply(changes, to: &jobs) || cursor == nil
                cursor = changes.cursor
                if changed { show(jobs.values.sorted { $0.key < $1.key }) }
                // Decide again once the directory was read, and then whenever something changed.
                if untilDone, directoryRead, changed || !decided {
                    decided = true
                    if let outcome = try await finished(jobs.values) {
                        result.withLock { $0 = outcome }
                        return
                    }
                }
            } catch {
                logger.warning("progress read failed: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Brings `jobs` (by uid) in line with `changes`; returns whether any line or ending changed.
    static func apply(_ changes: ResourceChanges, to jobs: inout [String: Entry]) throws -> Bool {
        var changed = false
        if let present = changes.present {
            let before = jobs.count
            jobs = jobs.filter { present.contains($0.key) }
            changed = jobs.count != before
        }
        for stored in changes.changed {
            guard stored.deletionTimestamp == nil else {
                if jobs.removeValue(forKey: stored.uid) != nil { changed = true }
                continue
            }
            // A row read again (an older transaction was still open at the last read) is not decoded again.
            if jobs[stored.uid]?.resourceVersion == stored.resourceVersion { continue }
            let job = try stored.videoJob()
            let entry = Entry(
                resourceVersion: stored.resourceVersion, key: "\(job.metadata.effectiveNamespace)/\(job.metadata.name)",
                line: line(job), ended: ended(job))
            let old = jobs.updateValue(entry, forKey: stored.uid)
            if let old, old.line == entry.line, old.ended == entry.ended { continue }
            changed = true
        }
        return changed
    }

    /// How a job ended in its current generation, or `nil` while it runs. An expired job counts as it ended.
    static func ended(_ job: VideoJob) -> Outcome? {
        guard let status = job.status, status.observedGeneration == job.metadata.generation,
            let phase = status.phase, phase.isFinished
        else { return nil }
        if phase == .Failed || status.conditions?.first(where: { $0.type == "Succeeded" })?.status == .false {
            return .failed
        }
        return .succeeded
    }

    private func finished(_ jobs: some Collection<Entry>) async throws -> Outcome? {
        var failed = false
        for job in jobs {
            guard let ended = job.ended else { return nil }
            if ended == .failed { failed = true }
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

    private func show(_ jobs: [Entry]) {
        let lines = jobs.map { (key: $0.key, line: $0.line) }
        if terminal {
            let output = shown.withLock { state -> String? in
                let text = lines.map(\.line)
                guard text != state.text else { return nil }
                var output = state.text.isEmpty ? "" : "\u{1B}[\(state.text.count)F"
                for line in text { output += "\u{1B}[2K" + line + "\n" }
                state.text = text
                return output
            }
            if let output { StandardOutput.write(output) }
        } else {
            let changed = shown.withLock { state -> [String] in
                let changed = lines.filter { state.last[$0.key] != $0.line }.map(\.line)
                for line in lines { state.last[line.key] = line.line }
                return changed
            }
            if !changed.isEmpty { StandardOutput.write(changed.map { $0 + "\n" }.joined()) }
        }
    }
}
