import Foundation
import Hummingbird
import Logging
import Prometheus
import ReelHealth
import ReelCore
import ReelStorage
import ReelStore
import ServiceLifecycle

/// How `reel serve` (and `--api-addr`) serves.
public struct APISettings: Sendable {
    public var host: String
    public var port: Int
    /// How long signed links last.
    public var urlLifetime: Duration = .seconds(3600)
    /// Idle event streams get a comment line this often.
    public var heartbeat: Duration = .seconds(15)
    /// Event streams get queue statistics this often.
    public var statsInterval: Duration = .seconds(5)
    /// Events are kept this long (how far back `Last-Event-ID` can resume).
    public var eventRetention: Duration = .seconds(86400)
    /// A connection idle this long is closed (event streams are never idle: heartbeats).
    public var idleTimeout: Duration = .seconds(75)
    /// Directories `file://` sources and outputs of jobs created over HTTP may name (none by default).
    public var fileRoots = AllowedRoots([])
    /// The prefix of signed links (`https://reel.example.com`); default: from each request's `Host`.
    public var publicURL: String?
    /// Resumable uploads: size limit, tenant quota, expiry.
    public var uploads = UploadLimits()

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// What the handlers share.
struct APIHandlers: Sendable {
    let settings: APISettings
    let database: APIDatabase
    let writer: @Sendable (String) -> any ResourceWriter
    let files: SignedFiles
    let uploads: UploadService
    let hub: EventHub
    let registry: PrometheusCollectorRegistry
    let readiness: @Sendable () -> Readiness
    let logger: Logger

    /// Runs a resource write, answering a refused one with its `Status` (404, 409).
    func writing<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refused as ResourceWriteError {
            throw APIFailure.from(refused)
        }
    }

    /// The URL prefix a client that sent `request` reached us at.
    func base(_ request: Request) -> String {
        "http://\(request.head.authority ?? "\(settings.host):\(settings.port)")"
    }
}

/// The REST API on Hummingbird: `/api/…` behind bearer tokens, `/files/…` behind signatures, `/healthz`, `/readyz`,
/// `/metrics` (with request counts and latencies by route and code), and `/api/openapi.json`. Shuts down
/// gracefully: event streams end, requests in flight finish.
public final class APIServer: Service {
    let handlers: APIHandlers
    let onRunning: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - writer: the resource writer of a namespace (the `resources` table, or the Kubernetes API server).
    ///   - onRunning: told the port once the server listens (a test that asked for port 0 learns which).
    public init(
        settings: APISettings, database: APIDatabase, store: any ObjectStore, signingKey: [UInt8],
        writer: @escaping @Sendable (String) -> any ResourceWriter, registry: PrometheusCollectorRegistry,
        logger: Logger, readiness: @escaping @Sendable () -> Readiness = { Readiness(ready: true, detail: "ok") },
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        handlers = APIHandlers(
            settings: settings, database: database, writer: writer,
            files: SignedFiles(store: store, signingKey: signingKey, publicURL: settings.publicURL),
            uploads: UploadService(store: store, limits: settings.uploads, registry: registry, logger: logger),
            hub: EventHub(
                database: database, heartbeat: settings.heartbeat, statsInterval: settings.statsInterval,
                logger: logger),
            registry: registry, readiness: readiness, logger: logger)
        self.onRunning = onRunning
    }

    public func run() async throws {
        let handlers = handlers
        let router = Router(context: APIContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware())
        handlers.registerHealth(router)
        handlers.registerFiles(router)
        let api = router.group("api").add(middleware: Authenticate(database: handlers.database))
            .add(middleware: AuditMiddleware(database: handlers.database))
        handlers.registerJobs(api)
        handlers.registerEvents(api)
        handlers.registerOperations(api)
        handlers.registerWorkerActions(api)
        handlers.registerUploads(router, api)
        handlers.registerUploadQueue(api)
        handlers.registerThumbnails(api)
        handlers.registerAnalysis(api)
        handlers.registerDashboard(router)
        let settings = handlers.settings
        let application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(settings.idleTimeout.seconds)))),
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port), serverName: "reel"),
            onServerRunning: { [logger = handlers.logger, onRunning] channel in
                let port = channel.localAddress?.port ?? settings.port
                let base = "http://\(settings.host):\(port)"
                logger.info("serving the API on \(base)/api and the dashboard on \(base)/")
                await onRunning(port)
            },
            logger: handlers.logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await handlers.hub.run() }
            try await application.run()
            group.cancelAll()
        }
    }
}
