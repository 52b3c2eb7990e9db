import Foundation
import Hummingbird
import Logging
import Metrics
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

/// The operator's HTTP endpoints on Hummingbird: `/healthz` (the process answers), `/readyz` (200 once the
/// caller says it is ready, 503 before, with the reason as text), and `/metrics`, the Prometheus text format of
/// `registry`. The metrics may be served on an address of their own (`metricsAddress`), as controller-runtime
/// does.
public final class HealthServer: Service {
    public let registry: PrometheusCollectorRegistry
    let healthAddress: (host: String, port: Int)
    let metricsAddress: (host: String, port: Int)?
    let readiness: @Sendable () -> Readiness
    let logger: Logger

    public init(
        healthAddress: (host: String, port: Int), metricsAddress: (host: String, port: Int)?,
        registry: PrometheusCollectorRegistry, logger: Logger, readiness: @escaping @Sendable () -> Readiness
    ) {
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
        let metricsTogether = metricsAddress == nil
        var applications = [application(healthAddress, health: true, metrics: metricsTogether)]
        if let metricsAddress { applications.append(application(metricsAddress, health: false, metrics: true)) }
        try await withThrowingDiscardingTaskGroup { group in
            for application in applications {
                group.addTask { try await application.run() }
            }
        }
    }

    private func application(_ address: (host: String, port: Int), health: Bool, metrics: Bool)
        -> some ApplicationProtocol
    {
        let router = Router()
        if health {
            router.get("healthz") { _, _ in "ok\n" }
            router.get("readyz") { [readiness] _, _ -> Response in
                let state = readiness()
                return Response(
                    status: state.ready ? .ok : .serviceUnavailable,
                    headers: [.contentType: "text/plain; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: state.detail + "\n")))
            }
        }
        if metrics {
            router.get("metrics") { [registry] _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port), serverName: "reel"),
            onServerRunning: { [logger] channel in
                let port = channel.localAddress?.port ?? address.port
                let endpoints = (health ? ["/healthz", "/readyz"] : []) + (metrics ? ["/metrics"] : [])
                logger.info("serving \(endpoints.joined(separator: ", ")) on \(address.host):\(port)")
            },
            logger: logger)
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
