import ArgumentParser
import Foundation
import ReelAPI
import ReelStore

/// `reel logs`.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a VideoJob's log lines (job_logs).")

    @Argument(help: "The VideoJob's name.")
    var job: String

    @Flag(name: [.short, .long], help: "Keep printing new lines.")
    var follow = false

    @OptionGroup var options: StateOptions

    func run() async throws {
        try await options.withDatabase { pool in
            var last: Int64 = 0
            func printNew() async throws {
                let jobs = try await pool.jobs.jobIDs(namespace: options.namespace, name: job)
                if jobs.isEmpty && !follow { throw CLIFailure("no processing records for VideoJob \"\(job)\"") }
                for line in try await LogLines.read(
                    database: pool, jobs: jobs, after: last, limit: 10_000, newest: false)
                {
                    // Unbuffered: a reader at the other end of a pipe sees each line as it comes.
                    FileHandle.standardOutput.write(Data((line.text + "\n").utf8))
                    last = max(last, line.id)
                }
            }
            // Where the feed stands is noted before the first read: a line logged between the two is read twice
            // (and printed once, by id), never skipped.
            let from = follow ? try await pool.events.lastID() : 0
            try await printNew()
            guard follow else { return }
            // New lines arrive as `log` events of the feed; each wakes a read of what is new.
            try await FeedFollower.follow(pool, from: from) { event in
                if event.type == "log", event.namespace == options.namespace { try await printNew() }
            }
        }
    }
}

/// Rendering `job_logs` rows.
enum LogLines {
    struct Line {
        var id: Int64
        var text: String
    }

    static func read(database: Database, jobs: [Int64], after: Int64, limit: Int, newest: Bool) async throws
        -> [Line]
    {
        try await database.logs.lines(jobs: jobs, after: after, limit: limit, newest: newest).map { row in
            let place = row.stage.map { " [\($0)\(row.chunkIndex.map { "#\($0)" } ?? "")]" } ?? ""
            let extras = row.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return Line(
                id: row.id,
                text: "\(Timestamp(row.at)) \(row.level.uppercased())\(place) \(row.message)"
                    + (extras.isEmpty ? "" : "  " + extras))
        }
    }
}
