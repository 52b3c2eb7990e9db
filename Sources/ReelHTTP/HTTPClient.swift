import CCurl
import Dispatch
import Foundation
import Synchronization
import ReelSupport

/// How a request authenticates the server and itself: a CA (file or PEM data), a client certificate and key
/// (files or PEM data), or no verification at all.
public struct TLSOptions: Sendable, Equatable {
    public var caFile: String?
    public var caData: Data?
    public var clientCertificateFile: String?
    public var clientCertificateData: Data?
    public var clientKeyFile: String?
    public var clientKeyData: Data?
    /// Skips verifying the server (kubeconfig `insecure-skip-tls-verify`).
    public var insecure: Bool

    public init(
        caFile: String? = nil, caData: Data? = nil, clientCertificateFile: String? = nil,
        clientCertificateData: Data? = nil,
        clientKeyFile: String? = nil, clientKeyData: Data? = nil, insecure: Bool = false
    ) {
        self.caFile = caFile
        self.caData = caData
        self.clientCertificateFile = clientCertificateFile
        self.clientCertificateData = clientCertificateData
        self.clientKeyFile = clientKeyFile
        self.clientKeyData = clientKeyData
        self.insecure = insecure
    }
}

/// A request: method, URL, headers, and an in-memory body (API calls and upload chunks; large downloads use
/// `HTTPClient.download`).
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Whole-transfer timeout (`nil`: none, for watches).
    public var timeout: Duration?
    public var tls: TLSOptions?

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: Data? = nil,
        timeout: Duration? = .seconds(120), tls: TLSOptions? = nil
    ) {
        self.tls = tls
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A response: status, headers in order, body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The last value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// `Retry-After` as a duration (delta-seconds or an HTTP date).
    public var retryAfter: Duration? {
        guard let value = header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value) { return .milliseconds(Int(max(0, seconds) * 1000)) }
        guard let date = Self.httpDate(value) else { return nil }
        return .milliseconds(Int(max(0, date.timeIntervalSinceNow) * 1000))
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), the form servers send.
    static func httpDate(_ text: String) -> Date? {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month + 1, day)
        (components.hour, components.minute, components.second) = (clock[0], clock[1], clock[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT") ?? .gmt
        return calendar.date(from: components)
    }

    /// Header fields from raw header lines (the status line left out), names and values trimmed.
    static func headers(_ lines: [String]) -> [(name: String, value: String)] {
        lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { return nil }
            return (
                String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
    }
}

/// How failed calls are retried: exponential backoff with ±20 % jitter, capped, unless the server said when.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1` (1-based `attempt`): the server's own delay when given (capped),
    /// else base·2^(attempt−1) ± 20 %.
    public func delay(after attempt: Int, serverDelay: Duration? = nil, jitter: Double = .random(in: 0...1)) -> Duration
    {
        if let serverDelay { return min(serverDelay, maxDelay) }
        return Backoff(initial: baseDelay, maximum: maxDelay).delay(after: attempt, spread: jitter)
    }
}

/// Collects a response's headers and body.
private final class ResponseSink {
    var headerLines: [String] = []
    var body = Data()
}

extension HTTPClient {
    /// Sends `request` and returns the response, whatever its status; throws only for transport failures.
    public static func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { continuation in
            onThread {
                do throws(HTTPError) { continuation.resume(returning: .success(try perform(request))) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private static func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        _ = globalInit
        let easy = try HandlePool.shared.checkout()
        defer { HandlePool.shared.checkin(easy) }
        let sink = ResponseSink()
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        let list = Self.headerList(request)
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let h = easy.handle
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            Self.configure(h, request, headers: list)
            reel_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            reel_curl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())
            reel_curl_setopt_write_callback(h, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                if let data {
                    sink.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: bytes)
                }
                return bytes
            }
            reel_curl_setopt_pointer(h, CURLOPT_HEADERDATA, context.toOpaque())
            reel_curl_setopt_write_callback(h, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                if let data {
                    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: bytes), as: UTF8.self)
                    // A new status line (after a redirect or 1xx) starts a new header block.
                    if line.hasPrefix("HTTP/") { sink.headerLines.removeAll() }
                    sink.headerLines.append(line)
                }
                return bytes
            }
            return curl_easy_perform(h)
        }
        guard code == CURLE_OK else {
            throw HTTPError(.transport, curlMessage(code, errorBuffer), url: Self.redacted(request.url))
        }
        var status = 0
        reel_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        var opened = 0
        reel_curl_getinfo_long(h, CURLINFO_NUM_CONNECTS, &opened)
        if opened > 0 { HandlePool.shared.recordConnections(opened, url: request.url) }
        let headers = HTTPResponse.headers(sink.headerLines)
        return HTTPResponse(status: status, headers: headers, body: sink.body)
    }

    /// Everything but the callbacks: URL, method, timeouts, headers, TLS, body.
    static func configure(
        _ h: UnsafeMutableRawPointer, _ request: HTTPRequest, headers: UnsafeMutablePointer<curl_slist>?
    ) {
        reel_curl_setopt_string(h, CURLOPT_URL, request.url)
        reel_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        reel_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        reel_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method)
        if request.method == "HEAD" { reel_curl_setopt_long(h, CURLOPT_NOBODY, 1) }
        if let timeout = request.timeout {
            reel_curl_setopt_long(
                h, CURLOPT_TIMEOUT_MS,
                Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        }
        Self.apply(request.tls, to: h)
        reel_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, 15_000)
        reel_curl_setopt_string(h, CURLOPT_USERAGENT, "reel/0.1")
        reel_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headers)
        if let body = request.body {
            reel_curl_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies: the buffer need not outlive this call.
                let empty: [CChar] = [0]
                if bytes.count == 0 {
                    empty.withUnsafeBufferPointer {
                        _ = reel_curl_setopt_pointer(
                            h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                    }
                } else {
                    _ = reel_curl_setopt_pointer(
                        h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                }
            }
        }
    }

    /// The request's headers as a curl list (plus an empty `Expect:`, so bodies go without a 100-continue wait).
    static func headerList(_ request: HTTPRequest) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            list = curl_slist_append(list, line)
        }
        return list
    }

    /// Sets the TLS options on an easy handle.
    static func apply(_ tls: TLSOptions?, to h: UnsafeMutableRawPointer) {
        guard let tls else { return }
        if let file = tls.caFile { reel_curl_setopt_string(h, CURLOPT_CAINFO, file) }
        if let data = tls.caData {
            data.withUnsafeBytes { _ = reel_curl_setopt_blob(h, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        if let file = tls.clientCertificateFile { reel_curl_setopt_string(h, CURLOPT_SSLCERT, file) }
        if let data = tls.clientCertificateData {
            data.withUnsafeBytes { _ = reel_curl_setopt_blob(h, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) }
            reel_curl_setopt_string(h, CURLOPT_SSLCERTTYPE, "PEM")
        }
        if let file = tls.clientKeyFile { reel_curl_setopt_string(h, CURLOPT_SSLKEY, file) }
        if let data = tls.clientKeyData {
            data.withUnsafeBytes { _ = reel_curl_setopt_blob(h, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) }
            reel_curl_setopt_string(h, CURLOPT_SSLKEYTYPE, "PEM")
        }
        if tls.insecure {
            reel_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            reel_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
    }

    /// A URL without its query (which may carry credentials), for messages.
    public static func redacted(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }
}

/// Idle easy handles kept for the next request: `curl_easy_reset` clears a handle's options but keeps its open
/// connections (and DNS and TLS session caches), so calls to the same server reuse a connection instead of a new
/// TCP and TLS handshake each. libcurl reuses a connection only for a request with the same TLS settings.
final class HandlePool: Sendable {
    static let shared = HandlePool()
    /// Idle handles kept at most (more concurrent requests get handles of their own, dropped afterwards).
    let capacity = 16
    private let idle = Mutex<[EasyHandle]>([])
    private let opened = Mutex<[String: Int]>([:])

    func checkout() throws(HTTPError) -> EasyHandle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return try EasyHandle()
    }

    func checkin(_ handle: EasyHandle) {
        curl_easy_reset(handle.handle)
        idle.withLock { if $0.count < capacity { $0.append(handle) } }
    }

    func recordConnections(_ count: Int, url: String) {
        opened.withLock { $0[Self.origin(url), default: 0] += count }
    }

    func connections(to url: String) -> Int { opened.withLock { $0[Self.origin(url)] ?? 0 } }

    /// `scheme://host:port` of a URL.
    static func origin(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return url }
        let scheme = components.scheme ?? "http"
        return "\(scheme)://\(host):\(components.port ?? (scheme == "https" ? 443 : 80))"
    }
}

extension HTTPClient {
    /// How many connections `send` has opened to the origin (`scheme://host:port`) of `url` (requests that
    /// reused one do not count).
    public static func connectionsOpened(to url: String) -> Int { HandlePool.shared.connections(to: url) }
}
