import Foundation
import Logging
import ReelCore
import ReelServer
import ReelStorage
import ReelStore
import ServiceLifecycle
import ReelProcess
import ReelOperatorApp
import ReelHealth
import ReelKube
import ReelOperator

/// How the REST API is served, resolved from flags: `reel serve`, and `--api-addr` of `reel local` and
/// `reel operator`.
public struct APIOptions: Sendable {
    /// `HOST:PORT` or `:PORT`.
    public var address: String
    /// The HMAC key of signed links; `nil`: `signing.key` in the state directory, created when missing.
    public var signingKeyFile: String?
    /// Directories `file://` URIs of jobs created over HTTP may name.
    public var fileRoots: [String] = []
    /// The prefix of signed links, for a server behind a proxy.
    public var publicURL: String?
    public var urlLifetime: Duration = .seconds(3600)
    /// Resumable uploads: size limit, tenant quota, expiry.
    public var uploads = UploadLimits()

    public init(address: String) { self.address = address }
}

extension ReelApplication {
    /// The API server over `databaseURL` and `store`, writing resources through `writer`; `state` is where a
    /// signing key is kept when no file is named. Returns the service and what to close after it. The service
    /// first waits for `migrated` (the database's tables), then prepares the API's role, then serves.
    static func api(
        _ options: APIOptions, databaseURL: String, store: any ObjectStore, state: String?,
        writer: (@Sendable (APIDatabase, String) -> any ResourceWriter)? = nil, logger: Logger,
        readiness: @escaping @Sendable () -> Readiness = { Readiness(ready: true, detail: "ok") },
        migrated: @escaping @Sendable () async throws -> Void = {},
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> (service: Preceded, database: APIDatabase) {
        let address = try HealthServer.address(options.address)
        let keyPath: String
        if let file = options.signingKeyFile {
            keyPath = file
        } else if let state {
            keyPath = "\(state)/signing.key"
        } else {
            throw SigningKeyError(description: "name a signing key with --signing-key-file (32 bytes or more)")
        }
        let key = try SignedFiles.signingKey(at: keyPath, create: options.signingKeyFile == nil)
        var settings = APISettings(host: address.host, port: address.port)
        settings.fileRoots = AllowedRoots(options.fileRoots)
        settings.publicURL = options.publicURL
        settings.urlLifetime = options.urlLifetime
        settings.uploads = options.uploads
        let database = APIDatabase(url: databaseURL, maxConnections: 16)
        let write = writer ?? { database, namespace in TenantResources(database.tenant(namespace)) }
        let server = APIServer(
            settings: settings, database: database, store: store, signingKey: key,
            writer: { namespace in write(database, namespace) }, registry: OperatorMetrics.bootstrap(), logger: logger,
            readiness: readiness, onRunning: onRunning)
        let prepared = Preceded(
            before: {
                try await migrated()
                try await APIDatabase.prepareRole(serviceURL: databaseURL)
            }, service: server)
        return (prepared, database)
    }
}

extension ReelApplication {
    /// `reel operator --api-addr`: the operator, and the REST API writing VideoJobs through the API server; `state`
    /// is where the API's signing key is kept when `api` names no file.
    public static func `operator`(
        _ settings: OperatorSettings, api options: APIOptions, state: String?, logger: Logger
    ) async throws -> ReelApplication {
        var settings = settings
        settings.apiFileRoots = options.fileRoots
        let databaseURL = settings.databaseURL
        return try await `operator`(settings, logger: logger) { context in
            let api = try await api(
                options, databaseURL: databaseURL, store: context.store, state: state,
                writer: { _, _ in KubernetesWriter(client: context.client) }, logger: logger,
                readiness: context.readiness, migrated: context.migrated)
            return OperatorAddition(services: [.init(service: api.service)]) { await api.database.close() }
        }
    }
}
