import FoundationEssentials
import ReelSupport

/// A kubeconfig user's exec credential plugin (`client.authentication.k8s.io/v1` or `v1beta1`): run when a token
/// is first needed, and again once the token it gave expires (`status.expirationTimestamp`, a little early) or the
/// server refuses it (401) — as client-go does, so that a long-running operator outlives its first token.
public actor ExecCredentials {
    /// What the kubeconfig says to run.
    public struct Plugin: Sendable {
        public var apiVersion: String
        public var command: String
        public var args: [String]
        public var env: [String: String]
        /// The kubeconfig, for messages.
        public var configPath: String

        public init(
            apiVersion: String?, command: String, args: [String] = [], env: [String: String] = [:],
            configPath: String
        ) {
            self.apiVersion = apiVersion ?? "client.authentication.k8s.io/v1"
            self.command = command
            self.args = args
            self.env = env
            self.configPath = configPath
        }
    }

    public let plugin: Plugin
    /// How long before its expiry a token is replaced.
    let margin: Duration
    private var cached: (token: String, expires: Date?)?
    /// How many times the plugin has run.
    public private(set) var runs = 0

    public init(_ plugin: Plugin, margin: Duration = .seconds(10)) throws {
        guard
            plugin.apiVersion == "client.authentication.k8s.io/v1"
                || plugin.apiVersion == "client.authentication.k8s.io/v1beta1"
        else {
            throw KubeConfigError("\(plugin.configPath): exec plugin apiVersion \(plugin.apiVersion) is not supported")
        }
        self.plugin = plugin
        self.margin = margin
    }

    /// A token that has not expired, running the plugin when there is none.
    public func token(now: Date = Date()) async throws -> String {
        if let cached, cached.expires.map({ now.addingTimeInterval(margin.seconds) < $0 }) ?? true {
            return cached.token
        }
        let fresh = try await run()
        cached = fresh
        return fresh.token
    }

    /// Forgets the token (the server refused it; `nil`: whichever is cached): the next request runs the plugin
    /// again. A token already replaced since is kept.
    public func invalidate(_ token: String?) {
        if token == nil || cached?.token == token { cached = nil }
    }

    private func run() async throws -> (token: String, expires: Date?) {
        runs += 1
        let command = plugin.command.contains("/") ? plugin.command : "/usr/bin/env"
        let arguments = (plugin.command.contains("/") ? [] : [plugin.command]) + plugin.args
        var environment = ProcessInfo.processInfo.environment
        environment.merge(plugin.env) { _, new in new }
        environment["KUBERNETES_EXEC_INFO"] =
            #"{"apiVersion":"\#(plugin.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let result = try await ProcessRunner.capture(command, arguments, environment: environment)
        struct Credential: Decodable {
            struct Status: Decodable {
                var token: String?
                var expirationTimestamp: String?
            }
            var status: Status?
        }
        let status = (try? JSONDecoder().decode(Credential.self, from: Data(result.stdout.utf8)))?.status
        guard result.status == 0, let token = status?.token else {
            let said = result.stderr.trimmingWhitespace.prefix(300)
            throw KubeConfigError(
                "\(plugin.configPath): exec plugin \(plugin.command) gave no token (exit \(result.status))"
                    + (said.isEmpty ? "" : ": \(said)"))
        }
        var expires: Date?
        if let text = status?.expirationTimestamp {
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw KubeConfigError(
                    "\(plugin.configPath): exec plugin \(plugin.command) gave expirationTimestamp \"\(text)\", "
                        + "which is not an RFC 3339 time")
            }
            expires = date
        }
        return (token, expires)
    }
}
