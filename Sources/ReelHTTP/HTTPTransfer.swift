import CCurl
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// AWS Signature Version 4 for a request, computed by libcurl (`CURLOPT_AWS_SIGV4`). The secret goes to libcurl
/// only; it never appears in a URL, a header Reel writes, or a message.
public struct AWSSigV4: Sendable {
    /// `aws:amz:REGION:SERVICE`, e.g. `aws:amz:us-east-1:s3`.
    public var provider: String
    public var accessKeyID: String
    public var secretAccessKey: String

    public init(provider: String, accessKeyID: String, secretAccessKey: String) {
        self.provider = provider
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }
}

/// Part of a file, streamed as a request body (never read into memory whole).
public struct FileSlice: Sendable, Equatable {
    public var path: String
    public var offset: Int
    public var length: Int

    public init(path: String, offset: Int = 0, length: Int) {
        self.path = path
        self.offset = offset
        self.length = length
    }
}

/// Feeds a `FileSlice` to libcurl's read callback.
final class UploadSource {
    let descriptor: Int32
    var offset: Int
    var remaining: Int
    var sent = 0
    var failed: String?
    var progress: (@Sendable (Int) -> Void)?

    init(_ slice: FileSlice, url: String, progress: (@Sendable (Int) -> Void)? = nil) throws(HTTPError) {
        self.progress = progress
        descriptor = open(slice.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw HTTPError(.io, "cannot open \(slice.path): \(String(cString: strerror(errno)))", url: url)
        }
        offset = slice.offset
        remaining = slice.length
    }

    deinit { close(descriptor) }

    /// Fills up to `capacity` bytes at `buffer`; 0 at the end, `CURL_READFUNC_ABORT` on a read error.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        guard remaining > 0 else { return 0 }
        let count = pread(descriptor, buffer, min(capacity, remaining), off_t(offset))
        guard count > 0 else {
            failed = count == 0 ? "the file ended early" : String(cString: strerror(errno))
            return Int(CURL_READFUNC_ABORT)
        }
        offset += count
        remaining -= count
        sent += count
        progress?(sent)
        return count
    }
}

/// Where a response's body goes: memory, or (for a 2xx answer, when asked) a file.
final class ResponseSink {
    var headerLines: [String] = []
    var status = 0
    var body = Data()
    let filePath: String?
    var file: UnsafeMutablePointer<FILE>?
    var fileBytes = 0
    var writeFailed: String?

    init(filePath: String? = nil) { self.filePath = filePath }

    deinit { if let file { fclose(file) } }

    func header(_ line: String) {
        // A new status line (after a redirect or 1xx) starts a new header block.
        if line.hasPrefix("HTTP/") {
            headerLines.removeAll()
            let parts = line.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        }
        headerLines.append(line)
    }

    func write(_ data: UnsafeRawPointer, count: Int) -> Int {
        guard let filePath, (200..<300).contains(status) else {
            body.append(data.assumingMemoryBound(to: UInt8.self), count: count)
            return count
        }
        if file == nil {
            guard let opened = fopen(filePath, "wb") else {
                writeFailed = "cannot create \(filePath): \(String(cString: strerror(errno)))"
                return 0
            }
            file = opened
        }
        guard fwrite(data, 1, count, file) == count else {
            writeFailed = "cannot write \(filePath): \(String(cString: strerror(errno)))"
            return 0
        }
        fileBytes += count
        return count
    }

    /// Closes the file; `false` when the last writes did not reach it.
    func finish() -> Bool {
        guard let file else { return true }
        self.file = nil
        return fclose(file) == 0
    }
}

extension HTTPClient {
    /// Sets what `AWSSigV4` and `FileSlice` add to a request.
    static func configureTransfer(
        _ h: UnsafeMutableRawPointer, _ request: HTTPRequest, upload: Unmanaged<UploadSource>?
    ) {
        if let signing = request.awsSigV4 {
            reel_curl_setopt_string(h, CURLOPT_AWS_SIGV4, signing.provider)
            reel_curl_setopt_string(h, CURLOPT_USERNAME, signing.accessKeyID)
            reel_curl_setopt_string(h, CURLOPT_PASSWORD, signing.secretAccessKey)
            // Signed requests keep libcurl's `Expect: 100-continue` (see `headerList`); a server that never answers
            // it would stall every upload for libcurl's default second: wait briefly, then send the body.
            reel_curl_setopt_long(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 50)
        }
        guard let upload, let slice = request.bodyFile else { return }
        if let speed = request.maxSendSpeed {
            reel_curl_setopt_off_t(h, CURLOPT_MAX_SEND_SPEED_LARGE, curl_off_t(speed))
        }
        reel_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
        reel_curl_setopt_off_t(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(slice.length))
        reel_curl_setopt_pointer(h, CURLOPT_READDATA, upload.toOpaque())
        reel_curl_setopt_write_callback(h, CURLOPT_READFUNCTION) { buffer, size, count, context in
            let source = Unmanaged<UploadSource>.fromOpaque(context!).takeUnretainedValue()
            return source.read(into: UnsafeMutableRawPointer(buffer!), capacity: size * count)
        }
    }
}
