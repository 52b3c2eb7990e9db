import Crypto
import Foundation
import ReelHTTP
import ReelSupport

/// A tus 1.0.0 client on libcurl: creates an upload (or resumes the one remembered for this file), sends it in
/// chunks straight from the file with a SHA-256 per chunk, and resynchronises with `HEAD` after any failure, so
/// a dropped connection or an interrupted run costs at most the chunk in flight.
struct TusClient: Sendable {
    /// `http://host:port`, without a trailing slash.
    let server: String
    let token: String
    var chunkSize = 8 << 20
    var maxSendSpeed: Int?
    /// Consecutive failures tolerated before giving up.
    var attempts = 8
    let cache: UploadCache

    struct Outcome: Sendable {
        var url: String
        var resumedFrom: Int
        var jobUID: String?
    }

    /// Uploads `path` with `metadata`; `progress` is told the bytes the server holds plus those in flight.
    func upload(_ path: String, metadata: [String: String], progress: @escaping @Sendable (Int) -> Void)
        async throws -> Outcome
    {
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        let fingerprint = try cache.fingerprint(path, server: server)
        var url: String
        var offset: Int
        var resumedFrom = 0
        if let remembered = cache.url(for: fingerprint), let held = try await currentOffset(remembered) {
            (url, offset, resumedFrom) = (remembered, held, held)
        } else {
            url = try await create(size: size, metadata: metadata)
            try cache.remember(url, for: fingerprint)
            offset = 0
        }
        progress(offset)
        var failures = 0
        var retryAfter: Duration?
        var jobUID: String?
        while offset < size {
            let length = min(chunkSize, size - offset)
            let digest = try await Self.sha256(path, offset: offset, length: length)
            var request = HTTPRequest(
                method: "PATCH", url: url,
                headers: headers + [
                    ("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "\(offset)"),
                    ("Upload-Checksum", "sha256 \(digest)"),
                ], timeout: nil)
            request.bodyFile = FileSlice(path: path, offset: offset, length: length)
            request.maxSendSpeed = maxSendSpeed
            let base = offset
            request.onBodyProgress = { sent in progress(base + sent) }
            do {
                let response = try await HTTPClient.send(request)
                switch response.status {
                case 204:
                    offset = Int(response.header("Upload-Offset") ?? "") ?? offset + length
                    jobUID = response.header("Reel-Job-Id")
                    failures = 0
                    continue
                case 409, 423, 429, 460, 500...599:
                    // Offset or checksum off, busy, rate-limited, unavailable: look at the offset and go on.
                    failures += 1
                    guard failures < attempts else { throw UploadFailure(path: path, response: response) }
                    retryAfter = response.retryAfter
                case 400, 404, 410, 413, 415:
                    cache.forget(fingerprint)  // gone, or refused for good: a rerun starts afresh
                    throw UploadFailure(path: path, response: response)
                default:
                    // Said of the request, not the upload (401 with an expired token, 403): a rerun resumes.
                    throw UploadFailure(path: path, response: response)
                }
            } catch let error as HTTPError {
                failures += 1
                guard failures < attempts else { throw UploadFailure(path: path, message: error.message) }
            }
            try await Task.sleep(for: retryAfter ?? RetryPolicy(maxAttempts: attempts).delay(after: failures))
            retryAfter = nil
            guard let held = try await currentOffset(url) else {
                throw UploadFailure(path: path, message: "the server no longer has upload \(url)")
            }
            offset = held
            progress(offset)
        }
        cache.forget(fingerprint)
        if jobUID == nil {
            // Finished by an earlier run, or the answer to the last chunk was lost: the upload says how it ended.
            let view = try await state(url)
            if view.state == "invalid" { throw UploadFailure(path: path, message: view.message ?? "not a video") }
            jobUID = view.job?.uid
        }
        return Outcome(url: url, resumedFrom: resumedFrom, jobUID: jobUID)
    }

    struct UploadState: Decodable {
        struct Job: Decodable { var uid: String }
        var state: String
        var message: String?
        var job: Job?
    }

    /// `GET` of the upload: its state, message and job.
    func state(_ url: String) async throws -> UploadState {
        let response = try await send(HTTPRequest(url: url, headers: [("Authorization", "Bearer \(token)")]))
        guard response.status == 200, let view = try? JSONDecoder().decode(UploadState.self, from: response.body) else {
            throw UploadFailure(path: url, response: response)
        }
        return view
    }

    var headers: [(name: String, value: String)] {
        [("Authorization", "Bearer \(token)"), ("Tus-Resumable", "1.0.0")]
    }

    /// `POST /api/uploads`; returns the upload's URL.
    func create(size: Int, metadata: [String: String]) async throws -> String {
        let encoded = metadata.keys.sorted().map { "\($0) \(Data(metadata[$0]!.utf8).base64EncodedString())" }
        let response = try await send(
            HTTPRequest(
                method: "POST", url: "\(server)/api/uploads",
                headers: headers + [("Upload-Length", "\(size)"), ("Upload-Metadata", encoded.joined(separator: ","))]))
        guard response.status == 201, let location = response.header("Location") else {
            throw UploadFailure(path: metadata["filename"] ?? "", response: response)
        }
        return location.hasPrefix("http") ? location : server + location
    }

    /// The upload's offset (`HEAD`), or `nil` when the server does not have it (anymore: 404, 410). Answers that
    /// say nothing of the upload (a proxy's 502 or 503 while the server restarts, 423, 429) are retried like a
    /// dropped connection: taken for "gone", they made a rerun start over and a run in progress give up.
    func currentOffset(_ url: String) async throws -> Int? {
        var failures = 0
        while true {
            let response = try await send(HTTPRequest(method: "HEAD", url: url, headers: headers))
            switch response.status {
            case 200:
                guard let offset = Int(response.header("Upload-Offset") ?? "") else {
                    throw UploadFailure(path: url, message: "the server's HEAD answer has no Upload-Offset")
                }
                return offset
            case 404, 410:
                return nil
            case 409, 423, 429, 500...599:
                failures += 1
                guard failures < attempts else { throw UploadFailure(path: url, response: response) }
                try await Task.sleep(
                    for: response.retryAfter ?? RetryPolicy(maxAttempts: attempts).delay(after: failures))
            default:
                throw UploadFailure(path: url, response: response)
            }
        }
    }

    /// Sends a small request, retrying transport failures.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var failures = 0
        while true {
            do {
                return try await HTTPClient.send(request)
            } catch {
                failures += 1
                guard failures < attempts else {
                    throw UploadFailure(path: HTTPClient.redacted(request.url), message: error.message)
                }
                try await Task.sleep(for: RetryPolicy(maxAttempts: attempts).delay(after: failures))
            }
        }
    }

    /// Base64 of the SHA-256 of part of a file.
    static func sha256(_ path: String, offset: Int, length: Int) async throws -> String {
        try await BlockingExecutor.files.run { () throws -> String in
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw UploadFailure(path: path, message: "cannot read the file")
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            var hasher = SHA256()
            var remaining = length
            while remaining > 0 {
                let block = try handle.read(upToCount: min(remaining, 1 << 20)) ?? Data()
                guard !block.isEmpty else { throw UploadFailure(path: path, message: "the file shrank while sending") }
                hasher.update(data: block)
                remaining -= block.count
            }
            return Data(hasher.finalize()).base64EncodedString()
        }
    }
}

/// Upload URLs by file fingerprint (path, size, modification time, server), under `~/.cache/reel/uploads`, so a
/// rerun after Ctrl-C or a crash resumes where the server stands.
struct UploadCache: Sendable {
    let directory: String

    static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> UploadCache {
        let base =
            environment["REEL_CACHE_DIR"] ?? environment["XDG_CACHE_HOME"].map { "\($0)/reel" }
            ?? "\(environment["HOME"] ?? NSTemporaryDirectory())/.cache/reel"
        return UploadCache(directory: "\(base)/uploads")
    }

    func fingerprint(_ path: String, server: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = attributes[.size] as? Int ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return sha256Hex("\(absolute)\n\(size)\n\(modified)\n\(server)")
    }

    func url(for fingerprint: String) -> String? {
        (try? String(contentsOfFile: "\(directory)/\(fingerprint)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remember(_ url: String, for fingerprint: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data((url + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/\(fingerprint)"), options: .atomic)
    }

    func forget(_ fingerprint: String) { try? FileManager.default.removeItem(atPath: "\(directory)/\(fingerprint)") }
}

/// An upload the server refused or that kept failing, with the server's own message.
struct UploadFailure: Error, CustomStringConvertible {
    var path: String
    var message: String

    init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    init(path: String, response: HTTPResponse) {
        self.path = path
        let status = try? JSONDecoder().decode([String: JSONScalar].self, from: response.body)
        let text = status?["message"]?.text ?? String(decoding: response.body.prefix(300), as: UTF8.self)
        message = "HTTP \(response.status): \(text.isEmpty ? "no message" : text)"
    }

    var description: String { "\(path): \(message)" }
}

/// A JSON value of which only strings matter here.
struct JSONScalar: Decodable {
    var text: String?

    init(from decoder: any Decoder) throws {
        text = try? decoder.singleValueContainer().decode(String.self)
    }
}
