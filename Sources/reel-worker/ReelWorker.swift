import ArgumentParser
import ReelSupport
import ReelWorkerCLI

/// `reel-worker`: `reel worker` as an executable of its own, without the API server, the operator and the rest
/// of the command line, and without Foundation (its modules use FoundationEssentials), so that the many workers
/// a cluster runs each hold less memory. `reel worker` runs it when it sits beside `reel`.
@main
struct ReelWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel-worker", abstract: WorkerOptions.abstract, discussion: WorkerOptions.discussion)

    @OptionGroup var options: WorkerOptions

    func run() async throws { try await options.run() }

    static func main() async {
        MallocArenas.limit()
        await main(nil)
    }
}
