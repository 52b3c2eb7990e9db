import ArgumentParser
import ReelApp
import ReelOperatorApp
import ReelProcess

/// `reel operator`: the Kubernetes controller. Without `--api-addr`, `reel` hands the command line to
/// `reel-operator` when that sits beside it (`SiblingHandOff`): the same operator without the REST API,
/// Hummingbird and Foundation in memory, in the same process.
struct OperatorCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: OperatorOptions.abstract, discussion: OperatorOptions.discussion)

    @OptionGroup var options: OperatorOptions

    @Option(help: "Also serve the REST API on this address (HOST:PORT or :PORT); see `reel serve`.")
    var apiAddr: String?

    @OptionGroup(title: "REST API (with --api-addr)") var api: APIFlags

    func run() async throws {
        guard let apiAddr else {
            SiblingHandOff.exec("reel-operator")
            try await options.run()
            return
        }
        let api = api.options(address: apiAddr)
        let state = api.signingKeyFile == nil && options.workerRuntime == .process ? options.stateDirectory : nil
        try await options.run { settings, logger in
            try await CLIFailure.building {
                try await ReelApplication.operator(settings, api: api, state: state, logger: logger)
            }
        }
    }
}
