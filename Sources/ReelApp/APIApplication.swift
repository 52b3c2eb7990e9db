import Foundation
import Logging
import ReelCore
import ReelServer
import ReelStorage
import ReelStore
import ServiceLifecycle
import ReelProcess

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

/// The API's housekeeping, at start and every 10 minutes: events older than the retention window go (the feed
/// behind `/api/events` would grow without end), and so do incomplete uploads past their expiry, bytes first.
struct APIHousekeeping: Service {
    let database: Database
    let store: any ObjectStore
    var retention: Duration = .seconds(86400)
    var interval: Duration = .seconds(600)
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let pruned = try await database.events.prune(olderThan: retention)
                if pruned > 0 { logger.debug("pruned \(pruned) old event(s)") }
            } catch {
                logger.warning("cannot prune old events: \(error)")
            }
            do {
                let removed = try await UploadExpiry.remove(database, store: store)
                if removed > 0 { logger.info("removed \(removed) expired incomplete upload(s)") }
            } catch {
                logger.warning("cannot remove expired uploads: \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
