import CCurl
import Dispatch
import FoundationEssentials
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension HTTPClient {
    /// Sends `request` and returns the response, whatever its status; throws only for transport failures.
    /// With `toFile`, a 2xx answer's body is streamed into that file (replaced) instead of memory; other answers'
    /// bodies (error documents) stay in the response.
    public static func send(_ request: HTTPRequest, toFile: String? = nil) async throws(HTTPError) -> HTTPResponse {
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { continuation in
            onThread {
                do throws(HTTPError) {
                    continuation.resume(returning: .success(try perform(request, toFile: toFile)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    private static func perform(_ request: HTTPRequest, toFile: String?) throws(HTTPError) -> HTTPResponse {
        _ = globalInit
        let origin = HandlePool.origin(request.url)
        let easy = try HandlePool.shared.checkout(for: origin)
        defer { HandlePool.shared.checkin(easy, origin: origin) }
        let sink = ResponseSink(filePath: toFile)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        let upload = try request.bodyFile.map { slice throws(HTTPError) in
            Unmanaged.passRetained(
                try UploadSource(slice, url: Self.redacted(request.url), progress: request.onBodyProgress))
        }
        defer { upload?.release() }
        let list = Self.headerList(request)
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let h = easy.handle
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            Self.configure(h, request, headers: list)
            Self.configureTransfer(h, request, upload: upload)
            reel_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            reel_curl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())
            reel_curl_setopt_write_callback(h, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                guard let data else { return size * count }
                return sink.write(UnsafeRawPointer(data), count: size * count)
            }
            reel_curl_setopt_pointer(h, CURLOPT_HEADERDATA, context.toOpaque())
            reel_curl_setopt_write_callback(h, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                if let data {
                    sink.header(String(decoding: UnsafeRawBufferPointer(start: data, count: bytes), as: UTF8.self))
                }
                return bytes
            }
            return curl_easy_perform(h)
        }
        let closed = sink.finish()
        func failure(_ error: HTTPError) -> HTTPError {
            if let toFile, sink.fileBytes > 0 || closed == false { unlink(toFile) }
            return error
        }
        if let problem = upload?.takeUnretainedValue().failed {
            throw failure(HTTPError(.io, "reading the body: \(problem)", url: Self.redacted(request.url)))
        }
        if let problem = sink.writeFailed ?? (closed ? nil : "closing \(toFile ?? "")") {
            throw failure(HTTPError(.io, problem, url: Self.redacted(request.url)))
        }
        guard code == CURLE_OK else {
            throw failure(HTTPError(.transport, curlMessage(code, errorBuffer), url: Self.redacted(request.url)))
        }
        if let toFile, sink.fileBytes == 0, (200..<300).contains(sink.status) {
            // An empty object: the file exists all the same.
            guard FileManager.default.createFile(atPath: toFile, contents: nil) else {
                throw HTTPError(.io, "cannot create \(toFile)", url: Self.redacted(request.url))
            }
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
        // A peer that vanished without closing (a dropped NAT mapping, a dead node) is noticed in about a minute.
        reel_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        reel_curl_setopt_long(h, CURLOPT_TCP_KEEPIDLE, 30)
        reel_curl_setopt_long(h, CURLOPT_TCP_KEEPINTVL, 10)
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

    /// The request's headers as a curl list (plus an empty `Expect:`, so bodies go without a 100-continue wait —
    /// except on SigV4 requests: libcurl 7.88 would sign the removed header, and the signature would not match).
    static func headerList(_ request: HTTPRequest) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        let expect = request.awsSigV4 == nil ? ["Expect:"] : []
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + expect {
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
    /// Idle handles kept at most, across origins; the least recently used goes first.
    let capacity = 32
    /// Idle handles with the origin each last spoke to (its connection there is likely still open).
    private let idle = Mutex<[(origin: String, handle: EasyHandle)]>([])
    private let opened = Mutex<[String: Int]>([:])

    /// An idle handle that last spoke to `origin` (its connection there is likely open), else a new one: taking
    /// another server's handle would gain no connection and cost that server its own.
    func checkout(for origin: String) throws(HTTPError) -> EasyHandle {
        let reused = idle.withLock { idle -> EasyHandle? in
            guard let index = idle.lastIndex(where: { $0.origin == origin }) else { return nil }
            return idle.remove(at: index).handle
        }
        if let reused { return reused }
        return try EasyHandle()
    }

    func checkin(_ handle: EasyHandle, origin: String) {
        curl_easy_reset(handle.handle)
        // The handle just used is the one most likely wanted again: when full, the oldest idle one goes.
        let evicted = idle.withLock { idle -> EasyHandle? in
            let oldest = idle.count >= capacity ? idle.removeFirst().handle : nil
            idle.append((origin, handle))
            return oldest
        }
        _ = evicted  // released (and its connections closed) outside the lock
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
