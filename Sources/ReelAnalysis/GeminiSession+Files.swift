import FoundationEssentials
import ReelHTTP
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension GeminiSession {
    // MARK: Files API

    /// Uploads with the resumable protocol and waits until the file is ACTIVE; returns its URI.
    mutating func upload(path: String, size: Int, mimeType: String) async throws(AnalysisError) -> String {
        let start = HTTPRequest(
            method: "POST", url: "\(configuration.endpoint)/upload/v1beta/files",
            headers: [
                ("X-Goog-Upload-Protocol", "resumable"), ("X-Goog-Upload-Command", "start"),
                ("X-Goog-Upload-Header-Content-Length", "\(size)"), ("X-Goog-Upload-Header-Content-Type", mimeType),
                ("Content-Type", "application/json"),
            ],
            body: try? JSONEncoder().encode(["file": ["display_name": Paths.lastComponent(path)]]))
        let started = try await call(start, what: "upload start")
        guard let uploadURL = started.header("X-Goog-Upload-URL") else {
            throw AnalysisError(
                reason: "InvalidResponse", message: "upload start answered without X-Goog-Upload-URL", retryable: true)
        }
        let granularity = started.header("X-Goog-Upload-Chunk-Granularity").flatMap(Int.init) ?? 0
        let chunkSize =
            granularity > 0
            ? max(granularity, configuration.uploadChunkBytes / granularity * granularity)
            : configuration.uploadChunkBytes
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw AnalysisError(
                reason: "AnalysisFailed", message: "cannot read \(path): \(String(cString: strerror(errno)))",
                retryable: true)
        }
        defer { close(descriptor) }
        var offset = 0
        var finalResponse: HTTPResponse?
        var breaks = 0
        while finalResponse == nil {
            let bytes: Data
            do {
                bytes = try Self.read(descriptor, at: offset, count: chunkSize)
            } catch {
                // An upload of short or empty chunks would store a broken file under a valid name.
                throw AnalysisError(
                    reason: "AnalysisFailed", message: "cannot read \(path) at \(offset): \(error)", retryable: true)
            }
            let last = offset + bytes.count >= size
            let request = HTTPRequest(
                method: "POST", url: uploadURL,
                headers: [
                    ("X-Goog-Upload-Command", last ? "upload, finalize" : "upload"),
                    ("X-Goog-Upload-Offset", "\(offset)"),
                    ("Content-Type", mimeType),
                ], body: bytes)
            do {
                var sent = request
                sent.headers.append(("x-goog-api-key", configuration.apiKey))
                let response = try await HTTPClient.send(sent)
                guard (200..<300).contains(response.status) else {
                    let body = try? JSONDecoder().decode(APIError.self, from: response.body)
                    throw AnalysisError(
                        reason: response.status >= 500 ? "ServiceUnavailable" : "InvalidArgument",
                        message: "upload: HTTP \(response.status): \(body?.error.message ?? "")",
                        retryable: response.status >= 500)
                }
                if last { finalResponse = response } else { offset += bytes.count }
            } catch let error as AnalysisError {
                throw error
            } catch {
                // The connection broke: ask the server how much it has and go on from there.
                breaks += 1
                guard breaks < configuration.retry.maxAttempts else {
                    throw AnalysisError(
                        reason: "UploadFailed", message: "upload kept breaking: \(error)", retryable: true)
                }
                let query = try await call(
                    HTTPRequest(
                        method: "POST", url: uploadURL, headers: [("X-Goog-Upload-Command", "query")], body: Data()),
                    what: "upload query")
                guard let received = query.header("X-Goog-Upload-Size-Received").flatMap(Int.init) else {
                    throw AnalysisError(
                        reason: "UploadFailed", message: "upload query answered without a size", retryable: true)
                }
                offset = received
            }
        }
        struct Uploaded: Decodable {
            struct File: Decodable {
                var name: String
                var uri: String
                var state: String?
            }
            var file: File
        }
        guard let file = try? JSONDecoder().decode(Uploaded.self, from: finalResponse!.body).file else {
            throw AnalysisError(
                reason: "InvalidResponse", message: "the finalized upload did not describe a file", retryable: true)
        }
        return try await waitUntilActive(file.name, uri: file.uri, state: file.state)
    }

    /// Polls `GET files/{name}` until ACTIVE; FAILED is permanent.
    func waitUntilActive(_ name: String, uri: String, state: String?) async throws(AnalysisError) -> String {
        struct File: Decodable {
            var state: String?
            var uri: String?
            var error: APIError.Body?
        }
        var state = state
        let deadline = ContinuousClock.now + configuration.pollTimeout
        while state != "ACTIVE" {
            if state == "FAILED" {
                throw AnalysisError(
                    reason: "FileProcessingFailed", message: "the Files API could not process the chunk",
                    retryable: false)
            }
            guard ContinuousClock.now < deadline else {
                throw AnalysisError(
                    reason: "FileProcessingTimeout", message: "\(name) stayed \(state ?? "unknown")", retryable: true)
            }
            try await pause(configuration.pollInterval)
            let response = try await call(
                HTTPRequest(url: "\(configuration.endpoint)/v1beta/\(name)"), what: "file status")
            state = (try? JSONDecoder().decode(File.self, from: response.body))?.state
        }
        return uri
    }

    /// Up to `count` bytes of the file at `offset` (fewer only at its end).
    static func read(_ descriptor: Int32, at offset: Int, count: Int) throws -> Data {
        var bytes = Data(count: count)
        var filled = 0
        while filled < count {
            let read = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + filled, count - filled, off_t(offset + filled))
            }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            if read == 0 { break }
            filled += read
        }
        bytes.count = filled
        return bytes
    }
}
