import FoundationEssentials
import ReelHTTP
import ReelYAML
import ReelSupport

/// Where and how to reach an API server: the resolved result of a kubeconfig context or of the in-cluster
/// service account.
public struct KubeConnection: Sendable {
    /// `https://host:port`, without a trailing slash.
    public var server: String
    public var tls: TLSOptions
    /// A bearer token, when the user authenticates with one (`token`, `tokenFile`, an exec plugin, in-cluster).
    public var token: String?
    /// The context's namespace (`default` when it names none).
    public var namespace: String
    /// Where the token lives when it is rotated on disk (`tokenFile`, the in-cluster service account token,
    /// which the kubelet refreshes): read again for every request, `token` being the fallback.
    public var tokenFile: String?
    /// An exec credential plugin: its token replaces `token`, and is renewed when it expires.
    public var exec: ExecCredentials?

    public init(
        server: String, tls: TLSOptions = TLSOptions(), token: String? = nil, namespace: String = "default",
        tokenFile: String? = nil, exec: ExecCredentials? = nil
    ) {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        self.server = server
        self.tls = tls
        self.token = token
        self.namespace = namespace
        self.tokenFile = tokenFile
        self.exec = exec
    }

    /// The token to send now: the exec plugin's (run again when it has expired), else `currentToken`.
    public func bearerToken() async throws -> String? {
        if let exec { return try await exec.token() }
        return currentToken
    }

    /// The token to send now: the file's current content when there is a file, else `token`.
    public var currentToken: String? {
        if let tokenFile, let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            let trimmed = text.trimmingWhitespace
            if !trimmed.isEmpty { return trimmed }
        }
        return token
    }
}

/// A configuration problem, naming the file and what is wrong.
public struct KubeConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    init(_ message: String) { self.message = message }
}

/// kubeconfig files (`$KUBECONFIG`, else `~/.kube/config`) and the in-cluster service account.
public enum KubeConfig {
    struct File: Decodable {
        struct NamedCluster: Decodable {
            struct Cluster: Decodable {
                var server: String
                var certificateAuthority: String?
                var certificateAuthorityData: String?
                var insecureSkipTLSVerify: Bool?

                enum CodingKeys: String, CodingKey {
                    case server
                    case certificateAuthority = "certificate-authority"
                    case certificateAuthorityData = "certificate-authority-data"
                    case insecureSkipTLSVerify = "insecure-skip-tls-verify"
                }
            }
            var name: String
            var cluster: Cluster
        }

        struct NamedUser: Decodable {
            struct User: Decodable {
                struct Exec: Decodable {
                    struct Variable: Decodable {
                        var name: String
                        var value: String
                    }
                    var apiVersion: String?
                    var command: String
                    var args: [String]?
                    var env: [Variable]?
                }
                var token: String?
                var tokenFile: String?
                var clientCertificate: String?
                var clientCertificateData: String?
                var clientKey: String?
                var clientKeyData: String?
                var exec: Exec?

                enum CodingKeys: String, CodingKey {
                    case token, tokenFile, exec
                    case clientCertificate = "client-certificate"
                    case clientCertificateData = "client-certificate-data"
                    case clientKey = "client-key"
                    case clientKeyData = "client-key-data"
                }
            }
            var name: String
            var user: User
        }

        struct NamedContext: Decodable {
            struct Context: Decodable {
                var cluster: String
                var user: String?
                var namespace: String?
            }
            var name: String
            var context: Context
        }

        var clusters: [NamedCluster]?
        var users: [NamedUser]?
        var contexts: [NamedContext]?
        var currentContext: String?

        enum CodingKeys: String, CodingKey {
            case clusters, users, contexts
            case currentContext = "current-context"
        }
    }

    /// The kubeconfig path: `explicit`, else the first entry of `$KUBECONFIG`, else `~/.kube/config`.
    public static func path(
        _ explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let explicit { return explicit }
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first { return String(first) }
        return (environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path) + "/.kube/config"
    }

    /// Resolves `context` (the current one by default) of the kubeconfig at `path`. Relative file paths in it are
    /// relative to the file, as kubectl reads them; exec plugins (`client.authentication.k8s.io/v1`) are run.
    public static func load(path: String, context: String? = nil) async throws -> KubeConnection {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeConfigError("\(path): cannot read the kubeconfig")
        }
        let file: File
        do {
            guard let document = try YAMLParser.parse(bytes: Array(data)).first else {
                throw KubeConfigError("\(path): empty")
            }
            file = try YAMLNodeDecoder.decode(File.self, from: document)
        } catch let error as KubeConfigError {
            throw error
        } catch {
            throw KubeConfigError("\(path): \(error)")
        }
        let base = Paths.deletingLastComponent(path)
        func resolve(_ file: String?) -> String? { file.map { $0.hasPrefix("/") ? $0 : "\(base)/\($0)" } }
        guard let contextName = context ?? file.currentContext else {
            throw KubeConfigError("\(path): no current-context")
        }
        guard let named = file.contexts?.first(where: { $0.name == contextName }) else {
            throw KubeConfigError("\(path): no context \"\(contextName)\"")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == named.context.cluster })?.cluster else {
            throw KubeConfigError(
                "\(path): context \"\(contextName)\" names an unknown cluster \"\(named.context.cluster)\"")
        }
        let user = named.context.user.flatMap { name in file.users?.first { $0.name == name }?.user }
        func decode(_ base64: String?, _ field: String) throws -> Data? {
            guard let base64 else { return nil }
            guard let data = Data(base64Encoded: base64.filter { !$0.isWhitespace }) else {
                throw KubeConfigError("\(path): \(field) is not base64")
            }
            return data
        }
        let tls = TLSOptions(
            caFile: resolve(cluster.certificateAuthority),
            caData: try decode(cluster.certificateAuthorityData, "certificate-authority-data"),
            clientCertificateFile: resolve(user?.clientCertificate),
            clientCertificateData: try decode(user?.clientCertificateData, "client-certificate-data"),
            clientKeyFile: resolve(user?.clientKey), clientKeyData: try decode(user?.clientKeyData, "client-key-data"),
            insecure: cluster.insecureSkipTLSVerify ?? false)
        var token = user?.token
        if token == nil, let tokenFile = resolve(user?.tokenFile) {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw KubeConfigError("\(path): cannot read tokenFile \(tokenFile)")
            }
            token = text.trimmingWhitespace
        }
        var credentials: ExecCredentials?
        if token == nil, let exec = user?.exec {
            var env: [String: String] = [:]
            for variable in exec.env ?? [] { env[variable.name] = variable.value }
            credentials = try ExecCredentials(
                .init(
                    apiVersion: exec.apiVersion, command: exec.command, args: exec.args ?? [], env: env,
                    configPath: path))
            // Run now, so that a plugin that gives no token fails at start rather than at the first request.
            _ = try await credentials?.token()
        }
        return KubeConnection(
            server: cluster.server, tls: tls, token: token, namespace: named.context.namespace ?? "default",
            tokenFile: user?.token == nil ? resolve(user?.tokenFile) : nil, exec: credentials)
    }

    /// The connection `reel` commands use: the kubeconfig at `kubeconfig` when given; else in-cluster when
    /// `KUBERNETES_SERVICE_HOST` is set; else `$KUBECONFIG` or `~/.kube/config`.
    public static func connect(
        kubeconfig: String?, context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> KubeConnection {
        if kubeconfig == nil, environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        return try await load(path: path(kubeconfig, environment: environment), context: context)
    }

    /// The in-cluster connection: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service account's token, CA and
    /// namespace under `directory`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"]
        else {
            throw KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        guard let token = try? String(contentsOfFile: "\(directory)/token", encoding: .utf8) else {
            throw KubeConfigError("cannot read the service account token in \(directory)")
        }
        let namespace =
            (try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8))?.trimmingWhitespace ?? "default"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubeConnection(
            server: "https://\(hostPart):\(port)", tls: TLSOptions(caFile: "\(directory)/ca.crt"),
            token: token.trimmingWhitespace, namespace: namespace,
            tokenFile: "\(directory)/token")
    }
}
