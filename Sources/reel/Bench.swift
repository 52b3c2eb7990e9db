import ArgumentParser
import Foundation
import ReelStore
import ReelWorkerCLI

/// `reel bench …`: measurements recorded in docs/benchmarks.md.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Reel's throughput and latency.",
        subcommands: [
            QueueBench.self, SplitBench.self, ScenesBench.self, RenderBench.self, StorageBench.self, APIBench.self,
            UploadBench.self,
        ])
}

/// `reel bench queue`: enqueue, burn-down and wake-up of the Postgres task queue.
struct QueueBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Enqueue N no-op tasks, burn them down with W workers, and time idle wake-ups.",
        discussion: """
            Without --database-url an embedded PostgreSQL (durable settings) is started in a temporary directory \
            and removed afterwards.
            """)

    @Option(help: "Tasks to enqueue and burn down.") var tasks = 20_000
    @Option(help: "Concurrent workers.") var workers = 8
    @Option(help: "Tasks per claim and per completion statement.") var batch = 100
    @Option(help: "postgres:// URL or key=value connection string of a server to use.") var databaseURL: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let logger = CLILogging.logger("reel.bench", level: .warning)
        let options = QueueBenchmark.Options(tasks: tasks, workers: workers, batch: batch)
        let result: QueueBenchmark.Result
        if let databaseURL {
            result = try await QueueBenchmark.run(url: databaseURL, options: options, logger: logger)
        } else {
            result = try await BenchHarness.withDatabase("queue", logger: logger) { url, _ in
                try await QueueBenchmark.run(url: url, options: options, logger: logger)
            }
        }
        if json {
            print(try BenchHarness.json(result))
        } else {
            print("tasks \(result.tasks), workers \(result.workers), batch \(batch)")
            print("enqueue      \(Int(result.enqueuePerSec)) tasks/s")
            print(
                "burn-down    \(Int(result.burnDownPerSec)) tasks/s (completed \(result.completed), duplicates "
                    + "\(result.duplicates))"
            )
            print("claim        p50 \(result.claimLatencyMs.p50) ms, p99 \(result.claimLatencyMs.p99) ms")
            print("idle wake    p50 \(result.wakeLatencyMs.p50) ms, p99 \(result.wakeLatencyMs.p99) ms")
        }
        if result.duplicates > 0 || result.completed != result.tasks { throw ExitCode(1) }
    }
}
