import ArgumentParser
import ReelOperatorApp
import ReelSupport

/// `reel-operator`: `reel operator` as an executable of its own, without the REST API, Hummingbird and the rest of
/// the command line, and without Foundation (its modules use FoundationEssentials), so that the operator holding
/// many VideoJobs keeps less memory. `reel operator` runs it when it sits beside `reel` and `--api-addr` is not
/// given; it starts its process workers as `reel-worker` from the same directory.
@main
struct ReelOperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel-operator", abstract: OperatorOptions.abstract, discussion: OperatorOptions.discussion)

    @OptionGroup var options: OperatorOptions

    // `reel operator` hands over only command lines without --api-addr; the other API flags mean nothing then,
    // as they mean nothing to `reel operator` itself.
    @Option(help: .hidden) var apiAddr: String?
    @OptionGroup(visibility: .hidden) var api: APIFlags

    func validate() throws {
        if apiAddr != nil {
            throw ValidationError("reel-operator does not serve the REST API: run `reel operator --api-addr …`")
        }
    }

    func run() async throws {
        try await options.run(workerExecutable: OperatorOptions.reelBesideThisExecutable)
    }

    static func main() async {
        MallocArenas.limit()
        await main(nil)
    }
}
