import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStore
import ReelYAML
import ServiceLifecycle
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Desired state from a directory tree of YAML files (`.yaml`/`.yml`, multi-document, hidden entries skipped),
/// kept in the `resources` table with Kubernetes semantics. A file that does not parse or validate is reported
/// (a log line per problem, `file:line:column: field: message`, and `manifest_problems` for `reel get`) and its
/// resources are left as they were; every other file keeps working. A resource whose document disappears is
/// marked for deletion. The spec files are never written.
public final class DirectoryBackend: Service {
    public let directory: String
    let table: ResourceTable
    let logger: Logger
    let pollInterval: Duration
    let onChange: @Sendable ([ResourceKey]) async -> Void
    private let state = Mutex(ScanState())
    private let scanned = WakeSignal()

    private struct FileStamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int
        var inode: UInt
    }

    /// What a scan keeps of a file it read: what it declares and what is wrong with it, enough to scan again
    /// without reading it. Not the parsed resources: 10,000 specs would stay in memory for nothing.
    private struct FileSummary {
        var stamp: FileStamp
        var declarations: [(key: ResourceKey, nameMark: YAMLMark)]
        var problems: [FieldProblem]
    }

    private struct ScanState {
        /// Each file's summary when last read: an unchanged file is neither parsed nor applied again.
        var files: [String: FileSummary] = [:]
        var versions: [ResourceKey: Int64] = [:]
        var reported: [String: [ManifestProblem]] = [:]
        var scans = 0
        /// A declaration could not be applied (its resource was still being deleted): the next scan tries again.
        var retrying = false
    }

    /// A backend over `directory`; `onChange` gets the keys of resources created, changed or deleted.
    public init(
        directory: String, table: ResourceTable, logger: Logger, pollInterval: Duration = .seconds(1),
        onChange: @escaping @Sendable ([ResourceKey]) async -> Void
    ) {
        self.directory = Paths.absolute(directory)
        self.table = table
        self.logger = logger
        self.pollInterval = pollInterval
        self.onChange = onChange
    }

    /// Resources applied in one scan past which the table's statistics are refreshed.
    static let bulkLoad = 500

    /// How many scans have completed.
    public var scans: Int { state.withLock { $0.scans } }

    public func run() async throws {
        let watcher = DirectoryWatcher()
        if watcher == nil { logger.warning("inotify is unavailable; polling \(directory) every \(pollInterval)") }
        defer { watcher?.stop() }
        while !Task.isCancelledOrShuttingDown {
            let generation = watcher?.changed.generation ?? 0
            if let watcher, !watcher.watch([directory] + Self.directories(under: directory)) {
                logger.debug("some directories could not be watched; polling covers them")
            }
            do {
                let changed = try await scanOnce()
                if !changed.isEmpty { await onChange(changed) }
            } catch {
                logger.error("scan of \(directory) failed: \(error)")
            }
            if let watcher {
                // inotify wakes us at once; the timer is the fallback for what it cannot see.
                await watcher.changed.wait(after: generation, timeout: pollInterval)
                // Let an editor finish writing (several events per save) before reading.
                try? await Task.sleep(for: .milliseconds(30))
            } else {
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// Every non-hidden directory under `directory`.
    static func directories(under directory: String) -> [String] {
        Paths.walk(directory).filter(\.isDirectory).map { "\(directory)/\($0.relative)" }
    }

    /// Reads the directory once and brings the table in line; returns the keys that changed.
    @discardableResult
    public func scanOnce() async throws -> [ResourceKey] {
        let files = Self.manifestFiles(under: directory)
        // Where each resource is declared; the resource itself only for files read in this scan.
        var declared: [ResourceKey: (resource: Resource?, nameMark: YAMLMark, file: String)] = [:]
        var problems: [String: [ManifestProblem]] = [:]
        var troubled: Set<String> = []
        var changedFiles: Set<String> = []
        var summaries: [String: FileSummary] = [:]
        let (cached, known) = state.withLock { ($0.files, $0.versions) }
        var stamps: [String: FileStamp] = [:]
        for file in files {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            stamps[file] = FileStamp(
                seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec, size: Int(info.st_size),
                inode: UInt(info.st_ino))
        }
        // Nothing to read when no file changed and every declaration is in the table: an idle poll costs a stat
        // per file, whatever the number of resources.
        let unchanged = state.withLock { state -> Bool in
            guard state.scans > 0, !state.retrying, stamps.count == state.files.count,
                stamps.allSatisfy({ state.files[$0.key]?.stamp == $0.value })
            else { return false }
            state.scans += 1
            return true
        }
        if unchanged { return [] }
        for file in files {
            guard let stamp = stamps[file] else { continue }
            var summary: FileSummary
            var resources: [ResourceKey: Resource] = [:]
            // Unchanged, and every resource it declares is in the table: nothing to read. (A declaration not yet
            // applied, its resource still being deleted, needs the file read again.)
            if let previous = cached[file], previous.stamp == stamp,
                previous.declarations.allSatisfy({ (known[$0.key] ?? 0) > 0 })
            {
                summary = previous
            } else {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                let report = ManifestReport.read(bytes: Array(data))
                summary = FileSummary(stamp: stamp, declarations: [], problems: report.problems)
                for entry in report.resources {
                    let meta = entry.resource.metadata
                    let key = ResourceKey(
                        kind: entry.resource.kind, namespace: meta.effectiveNamespace, name: meta.name)
                    summary.declarations.append((key, entry.nameMark))
                    resources[key] = resources[key] ?? entry.resource
                }
                changedFiles.insert(file)
            }
            summaries[file] = summary
            var fileProblems = summary.problems.map {
                ManifestProblem(
                    file: file, line: $0.mark.line, column: $0.mark.column, field: $0.path, message: $0.message)
            }
            for (key, nameMark) in summary.declarations {
                if let earlier = declared[key] {
                    fileProblems.append(
                        ManifestProblem(
                            file: file, line: nameMark.line, column: nameMark.column, field: "metadata.name",
                            message:
                                "\(key) is already declared at "
                                + "\(earlier.file):\(earlier.nameMark.line):\(earlier.nameMark.column)"))
                    continue
                }
                declared[key] = (resources[key], nameMark, file)
            }
            if !fileProblems.isEmpty {
                problems[file] = fileProblems
                troubled.insert(file)
            }
        }
        var changed: [ResourceKey] = []
        var versions: [ResourceKey: Int64] = [:]
        var applied = 0
        for (key, item) in declared.sorted(by: { $0.key < $1.key }) {
            guard let resource = item.resource else {
                versions[key] = known[key]
                continue
            }
            let meta = resource.metadata
            let spec: JSONDocument
            switch resource {
            case .videoJob(let job): spec = try JSONDocument(encoding: job.spec)
            case .workerPool(let pool): spec = try JSONDocument(encoding: pool.spec)
            }
            let version = try await table.apply(
                key, labels: meta.labels, annotations: meta.annotations, spec: spec, sourceFile: item.file)
            versions[key] = version
            applied += 1
        }
        // A bulk load outgrows the statistics the server planned with (a lookup by name planned as a scan of a
        // nearly empty table stays one until autovacuum analyzes, up to a minute later): refresh them now.
        if applied >= Self.bulkLoad { try await table.analyze() }
        // A declaration disappears only with a file that changed or went away: when none did (and this is not
        // the first scan) the table already matches the files, and reading it again would cost a pass over every
        // resource each poll.
        let filesChanged = !changedFiles.isEmpty || Set(cached.keys) != Set(files) || scans == 0
        if filesChanged {
            // Only what a file declared: resources created over HTTP have no file and are not the directory's.
            for stored in try await table.declarations() where declared[stored.key] == nil && stored.sourceFile != nil {
                // A file that failed to read keeps its resources: a bad edit must not delete running work.
                if let file = stored.sourceFile, troubled.contains(file) { continue }
                if !stored.deleting, try await table.requestDeletion(stored.key) {
                    logger.info("\(stored.key) removed from \(stored.sourceFile ?? directory); deleting")
                    changed.append(stored.key)
                }
            }
            for file in files where changedFiles.contains(file) || cached[file] == nil {
                try await table.recordProblems(file: file, problems[file] ?? [])
            }
            try await table.forgetProblems(except: files)
        }
        let newlyReported = state.withLock { state -> [ManifestProblem] in
            var fresh: [ManifestProblem] = []
            for (file, list) in problems where state.reported[file] != list { fresh += list }
            state.reported = problems
            for (key, version) in versions where state.versions[key] != version { changed.append(key) }
            state.versions = versions
            state.retrying = versions.values.contains { $0 <= 0 }
            state.files = summaries
            state.scans += 1
            return fresh
        }
        for problem in newlyReported.sorted(by: { ($0.file, $0.line) < ($1.file, $1.line) }) {
            logger.error("\(problem.description)")
        }
        return changed
    }

    /// `.yaml`/`.yml` files under `directory`, sorted, skipping hidden files and directories.
    static func manifestFiles(under directory: String) -> [String] {
        Paths.walk(directory).filter { entry in
            !entry.isDirectory && (entry.relative.hasSuffix(".yaml") || entry.relative.hasSuffix(".yml"))
        }.map { "\(directory)/\($0.relative)" }.sorted()
    }
}

extension Task where Success == Never, Failure == Never {
    /// Cancelled, or the service group is shutting down gracefully.
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}
