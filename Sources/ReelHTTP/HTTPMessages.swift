import CCurl
import Dispatch
import FoundationEssentials
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
    /// Signs the request with AWS Signature Version 4.
    public var awsSigV4: AWSSigV4?
    /// Streams the body from part of a file (instead of `body`); the request is then an upload (PUT).
    public var bodyFile: FileSlice?
    /// Told the bytes of `bodyFile` handed to the connection so far, as they go (a progress bar).
    public var onBodyProgress: (@Sendable (Int) -> Void)?
    /// Sends at most this many bytes per second (libcurl's `MAX_SEND_SPEED`).
    public var maxSendSpeed: Int?

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
        headers.last { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// `Retry-After` as a duration (delta-seconds or an HTTP date).
    public var retryAfter: Duration? {
        guard let value = header("Retry-After")?.trimmingWhitespace else { return nil }
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
                line[..<colon].trimmingWhitespace, line[line.index(after: colon)...].trimmingWhitespace
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
