import FoundationEssentials
import ReelHTTP
import ReelSupport

/// S3's REST API on libcurl: every request signed by libcurl (SigV4, `aws:amz:REGION:s3`), error documents
/// decoded (Code, Message, RequestId), throttling and server errors retried with backoff.
public struct S3Client: Sendable {
    public let location: S3Location
    public let credentials: AWSCredentialProvider
    /// Attempts per request (500, 502, 503, 504, `SlowDown`, `InternalError`, broken connections).
    public var attempts = 5
    public var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5))

    public init(location: S3Location, credentials: AWSCredentialProvider) {
        self.location = location
        self.credentials = credentials
    }

    /// One request. `objectKey` is the full key (prefix included); `nil` addresses the bucket.
    struct Call: Sendable {
        var method: String
        var objectKey: String?
        var query: [(String, String)] = []
        var headers: [(name: String, value: String)] = []
        var body: Data?
        var bodyFile: FileSlice?
        /// Where a 2xx body goes (instead of memory).
        var toFile: String?
        /// Statuses that are answers, not errors (404 for `head`), returned as they are, error document and all.
        var accept: Set<Int> = []
    }

    /// Sends `call`, retrying what is worth retrying; a non-2xx answer outside `accept` throws a `StorageError`
    /// carrying S3's code, message and request id.
    func send(_ call: Call) async throws -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            let request = request(call, try await credentials.credentials())
            let what = "\(call.method) \(location.uri(objectKey: call.objectKey ?? ""))"
            let response: HTTPResponse
            do {
                response = try await HTTPClient.send(request, toFile: call.toFile)
            } catch let error where error.code == .transport && attempt < attempts {
                try await Task.sleep(for: backoff.delay(after: attempt))
                continue
            } catch {
                throw StorageError(.ioError, "\(what): \(error.message)", key: call.objectKey ?? location.bucket)
            }
            if call.accept.contains(response.status) { return response }  // an answer, its error document too
            if (200..<300).contains(response.status) {
                // CompleteMultipartUpload and CopyObject can fail after a 200 has been sent.
                if let error = Self.embeddedError(response) {
                    guard attempt < attempts, Self.retryable(status: 500, code: error.code) else {
                        throw error.storageError(what, key: call.objectKey ?? location.bucket)
                    }
                    try await Task.sleep(for: backoff.delay(after: attempt))
                    continue
                }
                return response
            }
            var error = S3ErrorDocument(response)
            if attempt < attempts, Self.retryable(status: response.status, code: error.code) {
                try await Task.sleep(for: response.retryAfter ?? backoff.delay(after: attempt))
                continue
            }
            if call.method == "HEAD", let explained = await explain(call) { error = explained }
            throw error.storageError(what, key: call.objectKey ?? location.bucket)
        }
    }

    /// The signed libcurl request for `call`.
    func request(_ call: Call, _ credentials: AWSCredentials) -> HTTPRequest {
        var url = call.objectKey.map(location.url(objectKey:)) ?? location.bucketURL
        if !call.query.isEmpty { url += "?" + S3Location.query(call.query) }
        var headers = call.headers
        // libcurl 7.88 signs this header's value as the payload hash (and sends none without it, which S3
        // refuses): the body's SHA-256 when it is in memory, UNSIGNED-PAYLOAD when it streams from a file.
        headers.append(
            ("x-amz-content-sha256", call.bodyFile != nil ? "UNSIGNED-PAYLOAD" : sha256Hex(call.body ?? Data())))
        // libcurl labels an in-memory body as a form otherwise, and some servers then parse it away.
        if call.body != nil, !headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/octet-stream"))
        }
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        var request = HTTPRequest(
            method: call.method, url: url, headers: headers, body: call.body,
            timeout: call.bodyFile != nil || call.toFile != nil ? .seconds(3600) : .seconds(120))
        request.bodyFile = call.bodyFile
        request.awsSigV4 = AWSSigV4(
            provider: "aws:amz:\(location.region):s3", accessKeyID: credentials.accessKeyID,
            secretAccessKey: credentials.secretAccessKey)
        return request
    }

    /// A HEAD answer has no body, so a refused HEAD says only its status; the same request as a GET of nothing
    /// (one byte of the object, no keys of the bucket) brings S3's error document — `SignatureDoesNotMatch`
    /// rather than a bare 403.
    private func explain(_ head: Call) async -> S3ErrorDocument? {
        var probe = head
        probe.method = "GET"
        probe.accept = []
        if head.objectKey == nil {
            probe.query = [("list-type", "2"), ("max-keys", "0")]
        } else {
            probe.headers.append(("Range", "bytes=0-0"))
        }
        guard let credentials = try? await credentials.credentials(),
            let response = try? await HTTPClient.send(request(probe, credentials)),
            !(200..<300).contains(response.status), let root = S3XML.parse(response.body), root.name == "Error"
        else { return nil }  // no better explanation to be had: the HEAD's own status stands
        return S3ErrorDocument(response, document: root)
    }

    static func retryable(status: Int, code: String?) -> Bool {
        [500, 502, 503, 504].contains(status) || ["SlowDown", "InternalError", "RequestTimeout"].contains(code ?? "")
    }

    /// An `<Error>` document inside a 200 answer.
    static func embeddedError(_ response: HTTPResponse) -> S3ErrorDocument? {
        guard response.body.count < 64 << 10, let root = S3XML.parse(response.body), root.name == "Error" else {
            return nil
        }
        return S3ErrorDocument(response, document: root)
    }
}

/// S3's error document: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`.
struct S3ErrorDocument {
    var status: Int
    var code: String?
    var message: String?
    var requestID: String?

    init(_ response: HTTPResponse) { self.init(response, document: S3XML.parse(response.body)) }

    /// From an answer whose body is already parsed.
    init(_ response: HTTPResponse, document root: S3XML?) {
        status = response.status
        code = root?.text("Code")
        message = root?.text("Message")
        requestID = root?.text("RequestId") ?? response.header("x-amz-request-id")
        if code == nil {
            // HEAD answers have no body: name the status as S3 would.
            code = [403: "AccessDenied", 404: "NotFound", 301: "PermanentRedirect"][status]
        }
    }

    func storageError(_ what: String, key: String) -> StorageError {
        let kind: StorageError.Code =
            switch (status, code ?? "") {
            case (404, _), (_, "NoSuchKey"), (_, "NoSuchBucket"), (_, "NoSuchUpload"): .notFound
            case (401, _), (403, _), (_, "SignatureDoesNotMatch"), (_, "InvalidAccessKeyId"), (_, "AccessDenied"):
                .unauthorized
            default: .ioError
            }
        var text = "\(what): \(code ?? "HTTP \(status)")"
        if let message, !message.isEmpty { text += ": \(message)" }
        let details = (code == nil ? [] : ["HTTP \(status)"]) + (requestID.map { ["request id \($0)"] } ?? [])
        if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
        return StorageError(kind, text, key: key, s3Code: code)
    }
}
