import CCurl
import Dispatch
import FoundationEssentials
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A failed HTTP transfer: a code to branch on, the message, the URL and the HTTP status when there was one.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// DNS, connect, TLS, timeout: worth retrying.
        case transport
        /// The server answered with a status ≥ 400.
        case status
        /// The body passed the size limit.
        case tooLarge
        /// The local file could not be written.
        case io
        /// The address is one the policy does not allow (`AddressPolicy`).
        case refused
    }

    public var code: Code
    public var message: String
    public var url: String
    public var httpStatus: Int?

    public init(_ code: Code, _ message: String, url: String, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.url = url
        self.httpStatus = httpStatus
    }

    public var description: String { "\(url): \(message)" }

    /// Whether trying again later may help (transport errors, 408, 429, 5xx).
    public var isRetryable: Bool {
        switch code {
        case .transport: true
        case .status: httpStatus.map { $0 == 408 || $0 == 429 || $0 >= 500 } ?? false
        case .tooLarge, .io, .refused: false
        }
    }
}

/// A finished download.
public struct HTTPDownload: Sendable, Equatable {
    public var status: Int
    public var bytes: Int
    public var contentType: String?
}

/// libcurl's own words for a failed transfer: the error buffer's detail, else the code's description.
func curlMessage(_ code: CURLcode, _ errorBuffer: [CChar]) -> String {
    let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
}

/// Owns one `CURL*` easy handle for one transfer. `@unchecked Sendable`: a handle is created for one transfer,
/// handed to the one dispatch block that performs it, and freed when that block lets go; libcurl forbids
/// concurrent use of a handle, and nothing here shares one.
final class EasyHandle: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() throws(HTTPError) {
        guard let handle = curl_easy_init() else { throw HTTPError(.transport, "curl_easy_init failed", url: "") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }
}

/// Where the write callback puts the body, and how much it may.
private final class DownloadSink {
    let file: UnsafeMutablePointer<FILE>
    let maxBytes: Int
    var written = 0
    var overLimit = false
    var writeFailed = false

    init(file: UnsafeMutablePointer<FILE>, maxBytes: Int) {
        self.file = file
        self.maxBytes = maxBytes
    }
}

/// Plain HTTP(S) through libcurl. Each transfer runs on a thread of its own, never on Swift's cooperative threads.
public enum HTTPClient {
    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Runs a transfer on a thread of its own. A transfer blocks as long as the network takes — a watch for
    /// minutes — so it may hold neither one of Swift's cooperative threads nor one of the few threads a dispatch
    /// queue shares among its work items (there, a handful of open watches starved every other request).
    static func onThread(_ work: @escaping @Sendable () -> Void) { BlockingExecutor.network.submit(work) }

    /// Streams `url` into the file at `path` (replaced), refusing bodies over `maxBytes`; follows redirects.
    /// A status ≥ 400 is an error and leaves no file behind.
    public static func download(
        _ url: String, to path: String, maxBytes: Int, connectTimeout: Duration = .seconds(15),
        lowSpeedTimeout: Duration = .seconds(60), addresses: AddressPolicy = .any
    ) async throws(HTTPError) -> HTTPDownload {
        _ = globalInit
        let result: Result<HTTPDownload, HTTPError> = await withCheckedContinuation { continuation in
            onThread {
                do throws(HTTPError) {
                    continuation.resume(
                        returning: .success(
                            try transfer(
                                url, to: path, maxBytes: maxBytes, connectTimeout: connectTimeout,
                                lowSpeedTimeout: lowSpeedTimeout, addresses: addresses)))
                } catch { continuation.resume(returning: .failure(error)) }
            }
        }
        return try result.get()
    }

    private static func transfer(
        _ url: String, to path: String, maxBytes: Int, connectTimeout: Duration, lowSpeedTimeout: Duration,
        addresses: AddressPolicy
    ) throws(HTTPError) -> HTTPDownload {
        let easy = try EasyHandle()
        guard let file = fopen(path, "wb") else {
            throw HTTPError(.io, "cannot create \(path): \(String(cString: strerror(errno)))", url: url)
        }
        let sink = DownloadSink(file: file, maxBytes: maxBytes)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        let gate = Unmanaged.passRetained(AddressGate(addresses))
        defer { gate.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            let h = easy.handle
            reel_curl_setopt_string(h, CURLOPT_URL, url)
            reel_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 1)
            reel_curl_setopt_long(h, CURLOPT_MAXREDIRS, 5)
            if !addresses.unrestricted { AddressGate.install(on: h, gate.toOpaque()) }
            reel_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            reel_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
            reel_curl_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            reel_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.components.seconds * 1000))
            // Abort a transfer that moves under 1 byte/s for the low-speed window.
            reel_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
            reel_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, Int(lowSpeedTimeout.components.seconds))
            reel_curl_setopt_long(h, CURLOPT_FAILONERROR, 0)
            reel_curl_setopt_off_t(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxBytes))
            reel_curl_setopt_string(h, CURLOPT_USERAGENT, "reel/0.1")
            reel_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            reel_curl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())
            reel_curl_setopt_write_callback(h, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                let sink = Unmanaged<DownloadSink>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                if sink.written + bytes > sink.maxBytes {
                    sink.overLimit = true
                    return 0
                }
                guard fwrite(data, 1, bytes, sink.file) == bytes else {
                    sink.writeFailed = true
                    return 0
                }
                sink.written += bytes
                return bytes
            }
            return curl_easy_perform(h)
        }
        let closed = fclose(file)
        var status = 0
        reel_curl_getinfo_long(easy.handle, CURLINFO_RESPONSE_CODE, &status)
        var typePointer: UnsafeMutablePointer<CChar>? = nil
        reel_curl_getinfo_string(easy.handle, CURLINFO_CONTENT_TYPE, &typePointer)
        let contentType = typePointer.map { String(cString: $0) }
        func fail(_ error: HTTPError) -> HTTPError {
            unlink(path)
            return error
        }
        if sink.overLimit || code == CURLE_FILESIZE_EXCEEDED {
            throw fail(HTTPError(.tooLarge, "the body is larger than the limit of \(maxBytes) bytes", url: url))
        }
        if sink.writeFailed || closed != 0 {
            throw fail(HTTPError(.io, "cannot write \(path): \(String(cString: strerror(errno)))", url: url))
        }
        if let refusal = gate.takeUnretainedValue().refusal {
            throw fail(HTTPError(.refused, refusal, url: url))
        }
        guard code == CURLE_OK else {
            throw fail(HTTPError(.transport, curlMessage(code, errorBuffer), url: url))
        }
        guard status < 400 else {
            throw fail(HTTPError(.status, "the server answered HTTP \(status)", url: url, httpStatus: status))
        }
        return HTTPDownload(status: status, bytes: sink.written, contentType: contentType)
    }
}
