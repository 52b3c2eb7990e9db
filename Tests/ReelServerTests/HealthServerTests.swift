import Foundation
import Logging
import Prometheus
import ReelHTTP
import ReelHealth
import ReelServer
import ReelSupport
import ReelTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Health server")
struct HealthServerTests {
    final class Ready: Sendable {
        let state = Mutex(Readiness(ready: false, detail: "caches syncing"))
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.send(HTTPRequest(url: url, timeout: .seconds(10)))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// Where a server on port 0 listens: each listener's paths and the port the kernel gave it, as it binds.
    final class Listening: Sendable {
        let ports: AsyncStream<(paths: [String], port: Int)>
        let announce: AsyncStream<(paths: [String], port: Int)>.Continuation
        init() { (ports, announce) = AsyncStream.makeStream() }
        var onListening: @Sendable ([String], Int) async -> Void { { self.announce.yield(($0, $1)) } }

        /// Each path's port, once `listeners` listeners have bound (in either order); fails the test if the
        /// server ends first (the task that runs it finishes `announce`).
        func ports(of listeners: Int = 1) async -> [String: Int] {
            var ports: [String: Int] = [:]
            var bound = 0
            for await listener in self.ports {
                for path in listener.paths { ports[path] = listener.port }
                bound += 1
                if bound == listeners { return ports }
            }
            Issue.record("the server ended with \(bound) of \(listeners) listeners bound")
            return ports
        }
    }

    @Test func healthReadinessAndMetricsOverHTTP() async throws {
        let ready = Ready()
        let registry = PrometheusCollectorRegistry()
        let counter = registry.makeCounter(name: "reel_test_total")
        counter.increment(by: Int64(3))
        let listening = Listening()
        let server = HealthServer(
            healthAddress: ("127.0.0.1", 0), metricsAddress: ("127.0.0.1", 0), registry: registry,
            logger: Logger(label: "test"), readiness: { ready.state.withLock { $0 } },
            onListening: listening.onListening)
        let running = Task {
            defer { listening.announce.finish() }
            try await server.run()
        }
        defer { running.cancel() }
        let ports = await listening.ports(of: 2)
        let (healthPort, metricsPort) = (try #require(ports["/healthz"]), try #require(ports["/metrics"]))
        let health = "http://127.0.0.1:\(healthPort)", metrics = "http://127.0.0.1:\(metricsPort)"

        #expect(try await Self.get(health + "/healthz") == (200, "ok\n"))
        #expect(try await Self.get(health + "/readyz") == (503, "caches syncing\n"))
        ready.state.withLock { $0 = Readiness(ready: true, detail: "leading") }
        #expect(try await Self.get(health + "/readyz") == (200, "leading\n"))
        let scrape = try await Self.get(metrics + "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.body.contains("reel_test_total 3"), "\(scrape.body)")
        // Each address serves only its own endpoints.
        #expect(try await Self.get(health + "/metrics").status == 404)
        #expect(try await Self.get(metrics + "/healthz").status == 404)
        // A query string does not change the path; the endpoints are read-only; a probe may send HEAD.
        #expect(try await Self.get(health + "/healthz?verbose=1") == (200, "ok\n"))
        let posted = try await HTTPClient.send(
            HTTPRequest(method: "POST", url: health + "/readyz", body: Data("x".utf8), timeout: .seconds(10)))
        #expect(posted.status == 405)
        let head = try await HTTPClient.send(
            HTTPRequest(method: "HEAD", url: health + "/readyz", timeout: .seconds(10)))
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.headers.contains { $0.name.lowercased() == "content-length" && $0.value == "8" })
    }

    /// The operator runs the server in a ServiceGroup that shuts down on SIGTERM. The server must not listen for
    /// SIGTERM itself: if it did, it could end before the group heard the signal, and the group would report it as
    /// a service that "finished unexpectedly" (the operator then exited 1 on a plain `kill`). The race was lost
    /// about once in 25 rounds here, hence fifty; the process-directed `kill` is what `kubectl delete pod` sends.
    @Test func aSIGTERMShutsDownTheGroupNotJustTheServer() async throws {
        for round in 0..<50 {
            let listening = Listening()
            let server = HealthServer(
                healthAddress: ("127.0.0.1", 0), metricsAddress: nil, registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "test"), readiness: { Readiness(ready: true, detail: "ok") },
                onListening: listening.onListening)
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: server)], gracefulShutdownSignals: [.sigterm],
                    logger: Logger(label: "test")))
            let running = Task {
                defer { listening.announce.finish() }
                try await group.run()
            }
            let port = try #require(await listening.ports()["/healthz"])
            #expect(try await Self.get("http://127.0.0.1:\(port)/healthz") == (200, "ok\n"))
            kill(getpid(), SIGTERM)
            let outcome = await running.result
            #expect(throws: Never.self, "round \(round)") { try outcome.get() }
            if case .failure = outcome { break }
        }
    }

    /// A client that connects and sends nothing is disconnected once the request time is up, and the server
    /// answers others meanwhile.
    @Test func aSilentConnectionIsClosedAfterTheRequestTimeout() async throws {
        let listening = Listening()
        let server = HealthServer(
            healthAddress: ("127.0.0.1", 0), metricsAddress: nil, registry: PrometheusCollectorRegistry(),
            logger: Logger(label: "test"), requestTimeout: .milliseconds(300),
            readiness: { Readiness(ready: true, detail: "ok") }, onListening: listening.onListening)
        let running = Task {
            defer { listening.announce.finish() }
            try await server.run()
        }
        defer { running.cancel() }
        let port = try #require(await listening.ports()["/healthz"])
        let silent = try Loopback.connect(port)
        defer { close(silent) }
        #expect(try await Self.get("http://127.0.0.1:\(port)/healthz") == (200, "ok\n"))
        // Blocks in recv until the server closes the connection (0 bytes), or 10 s (SO_RCVTIMEO) pass (-1).
        let received = await BlockingExecutor.network.run {
            var buffer = [UInt8](repeating: 0, count: 64)
            return recv(silent, &buffer, buffer.count, 0)
        }
        #expect(received == 0, "the server did not close a connection that sent nothing")
    }

    @Test func addresses() throws {
        #expect(try HealthServer.address(":8081") == ("0.0.0.0", 8081))
        #expect(try HealthServer.address("127.0.0.1:9090") == ("127.0.0.1", 9090))
        for bad in ["8081", "host:", ":99999", "host:port"] {
            #expect(throws: HealthServerError.self, "\(bad)") { try HealthServer.address(bad) }
        }
    }
}
