import ArgumentParser
import Foundation
import Logging
import ReelApp
import ReelCore
import ReelOperator
import ReelStore
import ReelKube
import ReelServer
import ReelWorkerCLI
import ReelProcess
import ReelOperatorApp
import ReelSupport

extension APIFlags {
    func options(address: String) -> APIOptions {
        var options = APIOptions(address: address)
        options.signingKeyFile = signingKeyFile.map(Paths.absolute)
        options.fileRoots = apiAllowRoot.map(Paths.absolute)
        options.publicURL = publicURL
        options.urlLifetime = .seconds(urlLifetimeSeconds)
        options.uploads.maxBytes = maxUploadBytes
        options.uploads.tenantQuota = uploadQuotaBytes
        options.uploads.expiry = .seconds(uploadExpiryHours * 3600)
        return options
    }
}

/// `reel serve`: the REST API on its own, over the database and storage a `reel local` or `reel operator` uses.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the REST API: jobs, logs, chunks, signed links, events, tokens' tenants.",
        discussion: """
            Jobs created over HTTP are VideoJobs like any other: with --resources-from local they are rows of the \
            resources table that `reel local` (same --state or --database-url) reconciles at once; with \
            kubernetes they are created in the API server, in the token's namespace. Authenticate with a bearer \
            token from `reel token create`. The OpenAPI document is at /api/openapi.json.
            """)

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case local, kubernetes
    }

    @Option(help: "Address to listen on (HOST:PORT or :PORT).")
    var addr = "127.0.0.1:8080"

    @Option(help: "Where resources live: local (the resources table) or kubernetes (the API server).")
    var resourcesFrom: Backend = .local

    @Option(help: "State directory of `reel local` (default: $REEL_STATE_DIR or ./.reel).")
    var state: String?

    @Option(help: "kubeconfig file (--resources-from kubernetes; default: in-cluster, else $KUBECONFIG).")
    var kubeconfig: String?

    @Option(help: "kubeconfig context.")
    var context: String?

    @OptionGroup var data: StoreOptions

    @OptionGroup var api: APIFlags

    func run() async throws {
        let logger = CLILogging.logger("reel.serve")
        let configuration = ReelConfiguration()
        var settings = ServeSettings(api: api.options(address: addr), state: StateDatabase.stateDirectory(state))
        settings.databaseURL = configuration.value(data.databaseURL, .databaseURL)
        settings.storage = configuration.value(data.storage, .storage)
        if resourcesFrom == .kubernetes {
            do {
                settings.kubernetes = try await KubeConfig.connect(kubeconfig: kubeconfig, context: context)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let application = try await CLIFailure.building { try await ReelApplication.serve(settings, logger: logger) }
        try await application.run()
    }
}
