import ArgumentParser
import ReelWorkerCLI

/// `reel worker`: one worker process (or pod) running tasks of some stages. `reel` hands the command to
/// `reel-worker` when that sits beside it (`Reel.main`), so a worker does not carry the rest of Reel.
struct WorkerCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: WorkerOptions.abstract, discussion: WorkerOptions.discussion)

    @OptionGroup var options: WorkerOptions

    func run() async throws { try await options.run() }
}
