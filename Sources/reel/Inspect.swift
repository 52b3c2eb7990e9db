import ArgumentParser
import Foundation
import Logging
import ReelAPI
import ReelApp
import ReelOperator
import ReelCore
import ReelStore
import ReelWorkerCLI

/// Options every inspection command shares: where the state is.
struct StateOptions: ParsableArguments {
    @Option(help: "State directory of `reel local` (default: $REEL_STATE_DIR or ./.reel).")
    var state: String?

    @Option(help: "PostgreSQL URL instead of the state directory's embedded server (default: $REEL_DATABASE_URL).")
    var databaseURL: String?

    @Option(name: [.short, .long], help: "Namespace.")
    var namespace = "default"

    @Flag(name: [.customShort("A"), .long], help: "Every namespace.")
    var allNamespaces = false

    /// Runs `body` with a pool on the state's database (starting and stopping the embedded server if needed).
    func withDatabase<T>(_ body: (Database) async throws -> T) async throws -> T {
        let logger = CLILogging.logger("reel", level: .warning)
        let directory = StateDatabase.stateDirectory(state)
        if let missing = StateDatabase.missingState(directory, databaseURL: databaseURL) { throw CLIFailure(missing) }
        let database = try await StateDatabase.open(state: directory, databaseURL: databaseURL, logger: logger)
        let pool = Database(url: database.url, maxConnections: 2)
        do {
            let result = try await body(pool)
            await pool.close()
            await database.close()
            return result
        } catch {
            await pool.close()
            await database.close()
            throw error
        }
    }

    func matches(_ key: ResourceKey) -> Bool { allNamespaces || key.namespace == namespace }
}

/// Which kind a command names (`videojobs`, `vj`, `workerpool`, …).
enum KindArgument: String, ExpressibleByArgument, CaseIterable {
    case videojobs, workerpools

    init?(argument: String) {
        switch argument.lowercased() {
        case "videojobs", "videojob", "vj": self = .videojobs
        case "workerpools", "workerpool", "wp": self = .workerpools
        default: return nil
        }
    }

    var kind: String { self == .videojobs ? VideoJob.names.kind : WorkerPool.names.kind }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, wide, yaml, json
}

/// `reel get`.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List VideoJobs or WorkerPools with their status.",
        discussion: "Problems in the resource files (file:line:column: field: message) are listed after the table.")

    @Argument(help: "videojobs (vj) or workerpools (wp).")
    var kind: KindArgument

    @Argument(help: "One resource's name.")
    var name: String?

    @Option(name: .short, help: "Output: table, wide, yaml or json.")
    var output: OutputFormat = .table

    @Flag(name: [.short, .long], help: "After the table, print a row per change (VideoJobs; from the event feed).")
    var watch = false

    @OptionGroup var options: StateOptions

    func validate() throws {
        if watch && (kind != .videojobs || output == .json || output == .yaml) {
            throw ValidationError("--watch prints table rows of VideoJobs")
        }
    }

    func run() async throws {
        try await options.withDatabase { pool in
            let from = try await pool.events.lastID()
            let table = pool.resources
            let rows = try await table.list(kind: kind.kind).filter {
                options.matches($0.key) && (name == nil || $0.key.name == name)
            }
            if let name, rows.isEmpty {
                throw CLIFailure("\(kind.kind) \"\(name)\" not found in namespace \(options.namespace)")
            }
            switch output {
            case .json, .yaml:
                let items: [AnyResource] = try rows.map { try AnyResource($0) }
                let text: String
                if name != nil, let item = items.first {
                    text =
                        output == .json
                        ? String(decoding: try ResourceRendering.json(item), as: UTF8.self) + "\n"
                        : try ResourceRendering.yaml(item)
                } else {
                    let list = ResourceList(items: items)
                    text =
                        output == .json
                        ? String(decoding: try ResourceRendering.json(list), as: UTF8.self) + "\n"
                        : try ResourceRendering.yaml(list)
                }
                FileHandle.standardOutput.write(Data(text.utf8))
            case .table, .wide:
                let text = try Tables.render(rows, kind: kind, wide: output == .wide, namespaces: options.allNamespaces)
                FileHandle.standardOutput.write(Data((text + "\n").utf8))  // unbuffered: -w keeps running
            }
            let problems = try await table.problems()
            if !problems.isEmpty {
                var text = "\nProblems in resource files (these resources are not applied):\n"
                for problem in problems { text += "  \(problem.description)\n" }
                FileHandle.standardError.write(Data(text.utf8))
            }
            if watch { try await follow(pool, from: from, known: rows) }
        }
    }
}

/// A VideoJob or a WorkerPool, for lists.
struct AnyResource: Encodable {
    var job: VideoJob?
    var pool: WorkerPool?

    init(_ stored: StoredResource) throws {
        if stored.key.kind == VideoJob.names.kind {
            job = try stored.videoJob()
        } else {
            pool = try stored.workerPool()
        }
    }

    func encode(to encoder: any Encoder) throws {
        if let job { try job.encode(to: encoder) } else { try pool?.encode(to: encoder) }
    }
}

/// Kubernetes' generic list.
struct ResourceList: Encodable {
    var apiVersion = "v1"
    var kind = "List"
    var items: [AnyResource]
}

/// Tables as kubectl prints them.
enum Tables {
    static func render(_ rows: [StoredResource], kind: KindArgument, wide: Bool, namespaces: Bool) throws -> String {
        var header: [String]
        var lines: [[String]] = []
        switch kind {
        case .videojobs:
            header = ["NAME", "PHASE", "PROGRESS", "CHUNKS", "AGE"]
            if wide { header += ["GENERATION", "OBSERVED", "REASON", "SOURCE"] }
            for row in rows {
                let job = try row.videoJob()
                let status = job.status
                var line = [
                    row.key.name, status?.phase?.rawValue ?? "Pending", "\(status?.progress ?? 0)%",
                    status?.chunks.map { "\($0.analyzed)/\($0.total)" } ?? "-", age(row.creationTimestamp),
                ]
                if wide {
                    let summary = status?.conditions?.first { $0.type == "Succeeded" }
                    line += [
                        "\(row.generation)", status?.observedGeneration.map(String.init) ?? "-", summary?.reason ?? "-",
                        job.spec.source.uri,
                    ]
                }
                lines.append(line)
            }
        case .workerpools:
            header = ["NAME", "STAGES", "MIN", "MAX", "REPLICAS", "DESIRED", "QUEUE", "AGE"]
            for row in rows {
                let pool = try row.workerPool()
                let status = pool.status
                lines.append([
                    row.key.name, pool.spec.stages.map(\.rawValue).joined(separator: ","), "\(pool.spec.minReplicas)",
                    "\(pool.spec.maxReplicas)", status?.replicas.map(String.init) ?? "0",
                    status?.desiredReplicas.map(String.init) ?? "0", status?.queueDepth.map(String.init) ?? "0",
                    age(row.creationTimestamp),
                ])
            }
        }
        if namespaces {
            header.insert("NAMESPACE", at: 0)
            for (index, row) in rows.enumerated() { lines[index].insert(row.key.namespace, at: 0) }
        }
        if lines.isEmpty { return "No \(kind.rawValue) found." }
        return format([header] + lines)
    }

    static func format(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n")
    }

    static func age(_ date: Date) -> String {
        let seconds = Int(Date().timeIntervalSince(date))
        if seconds < 120 { return "\(max(0, seconds))s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }
}

/// `reel describe`.
struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one VideoJob in detail: conditions, outputs, chunks, tasks and recent logs.")

    @Argument(help: "videojob (vj).")
    var kind: KindArgument

    @Argument(help: "The VideoJob's name.")
    var name: String

    @OptionGroup var options: StateOptions

    func run() async throws {
        guard kind == .videojobs else { throw ValidationError("describe supports videojobs") }
        try await options.withDatabase { pool in
            let key = ResourceKey(kind: VideoJob.names.kind, namespace: options.namespace, name: name)
            guard let stored = try await pool.resources.get(key) else {
                throw CLIFailure("VideoJob \"\(name)\" not found in namespace \(options.namespace)")
            }
            let job = try stored.videoJob()
            var out = """
                Name:         \(name)
                Namespace:    \(key.namespace)
                UID:          \(stored.uid)
                Generation:   \(stored.generation)
                Finalizers:   \(stored.finalizers.joined(separator: ", "))
                Source:       \(job.spec.source.uri)
                Declared in:  \(stored.sourceFile ?? "-")

                """
            if let deletion = stored.deletionTimestamp { out += "Deleting since: \(Timestamp(deletion))\n" }
            let status = job.status
            out += "Phase:        \(status?.phase?.rawValue ?? "Pending")   Progress: \(status?.progress ?? 0)%"
            out += "   Observed generation: \(status?.observedGeneration.map(String.init) ?? "-")\n"
            if let chunks = status?.chunks {
                out +=
                    "Chunks:       total \(chunks.total), stored \(chunks.stored), analyzed \(chunks.analyzed), "
                    + "failed \(chunks.failed)\n"
            }
            if let start = status?.startTime { out += "Started:      \(start)\n" }
            if let end = status?.completionTime { out += "Completed:    \(end)\n" }
            out += "\nConditions:\n"
            let conditions = status?.conditions ?? []
            out += Tables.format(
                [["  TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE"]]
                    + conditions.map {
                        ["  " + $0.type, $0.status.rawValue, $0.reason, "\($0.lastTransitionTime)", $0.message]
                    })
            out += "\n\nOutputs:\n"
            let outputs = status?.outputs
            for (label, value) in [
                ("timeline", outputs?.timeline), ("otio", outputs?.otio), ("edl", outputs?.edl),
                ("render", outputs?.render),
            ] {
                if let value { out += "  \(label): \(value)\n" }
            }
            if outputs == nil { out += "  (none yet)\n" }
            if let jobID = try await pool.jobs.jobID(resourceUID: stored.uid, generation: stored.generation) {
                let tasks = try await pool.queue().taskCounts(jobID: jobID)
                out += "\nTasks:\n"
                out += Tables.format(
                    [["  STAGE", "STATE", "COUNT", "MAX ATTEMPT", "LAST ERROR"]]
                        + tasks.map { row in
                            [
                                "  " + row.stage.rawValue, row.state.rawValue, "\(row.count)", "\(row.maxAttempt)",
                                row.lastError ?? "",
                            ]
                        })
                out += "\n\nRecent logs:\n"
                for line in try await LogLines.read(database: pool, jobs: [jobID], after: 0, limit: 20, newest: true) {
                    out += "  \(line.text)\n"
                }
            }
            print(out, terminator: "")
        }
    }
}
