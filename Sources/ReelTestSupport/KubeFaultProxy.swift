import Dispatch
import Foundation
import ReelHTTP
import Synchronization
import ReelSupport

/// A proxy in front of a real kube-apiserver for the faults a real server will not produce on demand: clients
/// speak plain HTTP to it on 127.0.0.1; it forwards every request over TLS (libcurl) with the client's headers,
/// streams watches through as they arrive, and injects faults by rule — an error status for matching requests,
/// a watch cut after some events, watches held open without events until released.
public final class KubeFaultProxy: Sendable {
    /// A fault to inject.
    public enum Fault: Sendable {
        /// Answer `status` (with a Kubernetes `Status` body) to the next `times` requests of `method` whose path
        /// contains `path`; a watch counts as `WATCH`.
        case status(Int, method: String, path: String, times: Int)
        /// Cut the next `times` watches of paths containing `path` after `events` events.
        case cutWatch(path: String, afterEvents: Int, times: Int)
    }

    public let upstream: String
    let token: String
    let caFile: String
    private let server: TestHTTPServer
    private let shared = Shared()

    final class Shared: Sendable {
        let state = Mutex(State())
    }

    struct State {
        var faults: [Fault] = []
        var injected: [String] = []
        var holdingWatches = false
        var cutByHold = 0
        var requests = 0
    }

    public init(upstream: String, token: String, caFile: String) throws {
        self.upstream = upstream
        self.token = token
        self.caFile = caFile
        let shared = self.shared
        let box = Upstream(url: upstream, caFile: caFile)
        server = try TestHTTPServer { request in Self.handle(request, upstream: box, state: shared) }
    }

    /// In front of `server`.
    public convenience init(_ server: KubeAPIServer) throws {
        try self.init(upstream: server.url, token: server.token, caFile: server.caFile)
    }

    public var url: String { server.baseURL }

    /// Adds a fault rule.
    public func inject(_ fault: Fault) { shared.state.withLock { $0.faults.append(fault) } }

    /// What was injected so far (`"409 PUT /apis/…"`, `"cut WATCH /apis/… after 2"`).
    public var injected: [String] { shared.state.withLock { $0.injected } }

    /// Watches a hold has cut or parked so far (server side: the client notices when its scheduler lets it).
    public var watchesCutByHold: Int { shared.state.withLock { $0.cutByHold } }

    /// Requests proxied so far.
    public var requests: Int { shared.state.withLock { $0.requests } }

    /// While held, running watches are cut and new watches get their response head and nothing more; `release`
    /// lets them through again (they then resume from whatever version the client asks for).
    public func holdWatches() { shared.state.withLock { $0.holdingWatches = true } }
    public func release() { shared.state.withLock { $0.holdingWatches = false } }

    /// A kubeconfig for the proxy (plain HTTP, the server's token), written to `path`.
    public func writeKubeconfig(_ path: String) throws {
        try """
        apiVersion: v1
        kind: Config
        clusters:
        - name: proxy
          cluster: {server: "\(url)"}
        users:
        - name: admin
          user: {token: "\(token)"}
        contexts:
        - name: proxy
          context: {cluster: proxy, user: admin, namespace: default}
        current-context: proxy
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func stop() { server.stop() }

    struct Upstream: Sendable {
        var url: String
        var caFile: String
    }

    /// Waits on a proxy thread (never the cooperative pool) for an async result.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    static func handle(_ request: TestHTTPRequest, upstream: Upstream, state shared: Shared) -> TestHTTPReply {
        let state = shared
        let watch = request.query["watch"] == "true"
        let method = watch ? "WATCH" : request.method
        let path = request.path
        enum Decision { case pass, status(Int), cut(Int) }
        let decision = state.state.withLock { state -> Decision in
            state.requests += 1
            for index in state.faults.indices {
                switch state.faults[index] {
                case .status(let code, let m, let p, let times) where times > 0 && m == method && path.contains(p):
                    state.faults[index] = .status(code, method: m, path: p, times: times - 1)
                    state.injected.append("\(code) \(method) \(path)")
                    return .status(code)
                case .cutWatch(let p, let events, let times) where times > 0 && watch && path.contains(p):
                    state.faults[index] = .cutWatch(path: p, afterEvents: events, times: times - 1)
                    state.injected.append("cut \(method) \(path) after \(events)")
                    return .cut(events)
                default: continue
                }
            }
            return .pass
        }
        if case .status(let code) = decision {
            let reason =
                [
                    409: "Conflict", 410: "Expired", 500: "InternalError", 503: "ServiceUnavailable",
                    429: "TooManyRequests",
                ][code] ?? "Unknown"
            return .json(
                code,
                [
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
                    "message": "injected by the test proxy",
                ])
        }
        var headers: [(name: String, value: String)] = []
        for (name, value) in request.headers
        where !["host", "content-length", "connection", "accept-encoding"].contains(name) {
            headers.append((name, value))
        }
        let forwarded = HTTPRequest(
            method: request.method, url: upstream.url + request.target, headers: headers,
            body: request.body.isEmpty ? nil : request.body, timeout: watch ? nil : .seconds(60),
            tls: TLSOptions(caFile: upstream.caFile))
        guard watch else {
            do {
                let response = try blocking { try await HTTPClient.send(forwarded) }
                let passed = response.headers.filter { ["content-type"].contains($0.name.lowercased()) }.map {
                    ($0.name, $0.value)
                }
                return .response(status: response.status, headers: passed, body: response.body)
            } catch {
                return .drop
            }
        }
        let cutAfter: Int? = if case .cut(let events) = decision { events } else { nil }
        return .stream(status: 200, headers: [("Content-Type", "application/json")]) { write in
            Self.streamWatch(forwarded, cutAfter: cutAfter, state: shared, write: write)
        }
    }

    /// Copies a watch from upstream, counting events (lines); `false` to cut the connection.
    static func streamWatch(
        _ request: HTTPRequest, cutAfter: Int?, state shared: Shared, write: (Data) -> Bool
    ) -> Bool {
        let state = shared
        if state.state.withLock({ $0.holdingWatches }) {
            state.state.withLock { $0.cutByHold += 1 }
            // Held: say nothing until released, then end the watch so the client reconnects.
            while state.state.withLock({ $0.holdingWatches }) { usleep(20_000) }
            return false
        }
        let chunks = Chunks()
        let task = Task {
            do {
                for try await event in HTTPClient.stream(request) {
                    if case .data(let data) = event { chunks.push(data) }
                }
            } catch {}
            chunks.finish()
        }
        defer { task.cancel() }
        var events = 0
        var pending = Data()
        while true {
            switch chunks.pop(stop: { state.state.withLock { $0.holdingWatches } }) {
            case .finished: return true
            case .stopped:
                state.state.withLock { $0.cutByHold += 1 }
                return false
            case .data(let chunk):
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[...newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    guard write(Data(line)) else { return false }
                    events += 1
                    if let cutAfter, events >= cutAfter { return false }
                }
            }
        }
    }

    /// A blocking queue from the upstream task to the proxy thread.
    final class Chunks: Sendable {
        private let items = Mutex<(queue: [Data], finished: Bool)>(([], false))
        private let available = DispatchSemaphore(value: 0)

        func push(_ data: Data) {
            items.withLock { $0.queue.append(data) }
            available.signal()
        }

        func finish() {
            items.withLock { $0.finished = true }
            available.signal()
        }

        enum Next { case data(Data), finished, stopped }

        /// The next chunk, or the end; checks `stop` every 20 ms while waiting (a hold cuts an idle watch).
        func pop(stop: () -> Bool) -> Next {
            while true {
                let next = items.withLock { state -> Next? in
                    if !state.queue.isEmpty { return .data(state.queue.removeFirst()) }
                    return state.finished ? .finished : nil
                }
                if let next { return next }
                if stop() { return .stopped }
                _ = available.wait(timeout: .now() + .milliseconds(20))
            }
        }
    }
}
