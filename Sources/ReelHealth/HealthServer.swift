import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// What `/readyz` reports: ready or not, and why.
public struct Readiness: Sendable {
    public var ready: Bool
    public var detail: String

    public init(ready: Bool, detail: String) {
        self.ready = ready
        self.detail = detail
    }
}

/// The operator's HTTP endpoints on SwiftNIO's HTTP/1.1 server (not Hummingbird, which loads Foundation into the
/// operator): `/healthz` (the process answers), `/readyz` (200 once the caller says it is ready, 503 before, with
/// the reason as text), and `/metrics`, the Prometheus text format of `registry`. The metrics may be served on an
/// address of their own (`metricsAddress`), as controller-runtime does. One request per connection; a connection
/// that has not sent a whole request within `requestTimeout` is closed.
public final class HealthServer: Service {
    public let registry: PrometheusCollectorRegistry
    let healthAddress: (host: String, port: Int)
    let metricsAddress: (host: String, port: Int)?
    let readiness: @Sendable () -> Readiness
    let logger: Logger
    let requestTimeout: Duration
    let onListening: @Sendable (_ paths: [String], _ port: Int) async -> Void

    public init(
        healthAddress: (host: String, port: Int), metricsAddress: (host: String, port: Int)?,
        registry: PrometheusCollectorRegistry, logger: Logger, requestTimeout: Duration = .seconds(10),
        readiness: @escaping @Sendable () -> Readiness,
        onListening: @escaping @Sendable (_ paths: [String], _ port: Int) async -> Void = { _, _ in }
    ) {
        self.onListening = onListening
        self.requestTimeout = requestTimeout
        self.healthAddress = healthAddress
        self.metricsAddress = metricsAddress
        self.registry = registry
        self.logger = logger
        self.readiness = readiness
    }

    /// Parses `HOST:PORT` or `:PORT` (all interfaces).
    public static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw HealthServerError(message: "\"\(text)\" is not HOST:PORT or :PORT") }
        let host = String(text[..<colon])
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    public func run() async throws {
        let listeners =
            [(address: healthAddress, routes: Routes(health: true, metrics: metricsAddress == nil))]
            + (metricsAddress.map { [(address: $0, routes: Routes(health: false, metrics: true))] } ?? [])
        // Graceful shutdown (SIGTERM to the service group) and cancellation both close the listeners and the
        // connections in flight; the server never ends on its own.
        do {
            try await cancelWhenGracefulShutdown { [self] in
                try await withThrowingDiscardingTaskGroup { group in
                    for listener in listeners {
                        group.addTask { try await self.serve(listener.address, listener.routes) }
                    }
                }
            }
        } catch is CancellationError {
            return
        } catch  where Task.isCancelled || Task.isShuttingDownGracefully {
            return
        }
    }

    /// Which endpoints an address serves.
    struct Routes {
        var health: Bool
        var metrics: Bool
        var paths: [String] { (health ? ["/healthz", "/readyz"] : []) + (metrics ? ["/metrics"] : []) }
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private func serve(_ address: (host: String, port: Int), _ routes: Routes) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let port = listener.channel.localAddress?.port ?? address.port
        logger.info("serving \(routes.paths.joined(separator: ", ")) on \(address.host):\(port)")
        await onListening(routes.paths, port)
        try await listener.executeThenClose { connections in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in connections {
                    group.addTask {
                        // Whichever ends first ends the other: the answer, or the time it may take.
                        await withTaskGroup { race in
                            race.addTask { await self.answer(connection, routes) }
                            race.addTask { try? await Task.sleep(for: self.requestTimeout) }
                            await race.next()
                            race.cancelAll()
                        }
                    }
                }
            }
        }
    }

    /// Answers one request, then closes the connection (probes and scrapes send one request per interval);
    /// cancelled, closes it unanswered.
    private func answer(_ connection: Connection, _ routes: Routes) async {
        try? await connection.executeThenClose { requests, responses in
            var head: HTTPRequestHead?
            for try await part in requests {
                switch part {
                case .head(let request): head = request
                case .body: continue
                case .end:
                    guard let head else { return }
                    let (status, type, body) = response(to: head, routes)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: type)
                    headers.add(name: "Content-Length", value: "\(body.readableBytes)")
                    headers.add(name: "Connection", value: "close")
                    headers.add(name: "Server", value: "reel")
                    try await responses.write(
                        .head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                    if head.method != .HEAD { try await responses.write(.body(.byteBuffer(body))) }
                    try await responses.write(.end(nil))
                    return
                }
            }
        }
    }

    private func response(to request: HTTPRequestHead, _ routes: Routes) -> (HTTPResponseStatus, String, ByteBuffer) {
        let text = "text/plain; charset=utf-8"
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard routes.paths.contains(String(path)) else { return (.notFound, text, ByteBuffer(string: "not found\n")) }
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, text, ByteBuffer(string: "method not allowed\n"))
        }
        switch path {
        case "/healthz":
            return (.ok, text, ByteBuffer(string: "ok\n"))
        case "/readyz":
            let state = readiness()
            return (state.ready ? .ok : .serviceUnavailable, text, ByteBuffer(string: state.detail + "\n"))
        default:
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", ByteBuffer(bytes: registry.emitToBuffer()))
        }
    }
}

public struct HealthServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Sends swift-metrics to a Prometheus registry, once per process however often it is asked (swift-metrics allows
/// one bootstrap; a test process builds several operators).
public enum OperatorMetrics {
    public static func bootstrap() -> PrometheusCollectorRegistry { registry }

    private static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}
