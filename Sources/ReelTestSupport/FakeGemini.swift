import Foundation
import Synchronization

/// A fake of the Gemini API (v1beta REST) that follows the documented protocol strictly: the `x-goog-api-key`
/// header on every call; the Files API resumable upload (start with the `X-Goog-Upload-*` headers, chunks at the
/// right offset and a multiple of the granularity, finalize, `query` after a break); `GET files/{name}` answering
/// `PROCESSING` for the first polls; `generateContent` refusing a file that is not `ACTIVE` and requiring the
/// structured-output configuration. Faults can be queued: 429 with or without `RetryInfo`, 503, `MAX_TOKENS`,
/// `SAFETY`, a blocked prompt, malformed JSON, and an upload whose connection breaks.
public final class FakeGemini: Sendable {
    public enum Fault: Sendable, Equatable {
        case rateLimited(retryDelay: String?)
        case unavailable
        case maxTokens
        case safety
        case promptBlocked
        case malformedJSON
    }

    struct Upload {
        var length: Int
        var mimeType: String
        var displayName: String
        var received = Data()
        var finalized = false
    }

    struct FileEntry {
        var mimeType: String
        var size: Int
        /// GETs so far; the file is ACTIVE once they pass `processingPolls`.
        var polls = 0
    }

    struct State {
        var uploads: [String: Upload] = [:]
        var files: [String: FileEntry] = [:]
        var faults: [Fault] = []
        var breakNextUploadAfter: Int?
        var requests: [(method: String, path: String, command: String?, at: Date)] = []
        var violations: [String] = []
        var generateCalls: [Date] = []
        var nextID = 0
        var lastPrompt: Data? = nil
    }

    public let apiKey: String
    /// Upload chunk granularity the fake announces.
    public let granularity: Int
    /// Polls that answer `PROCESSING` before a file becomes `ACTIVE`.
    public let processingPolls: Int
    /// The scenes every successful `generateContent` returns (model times, `MM:SS.s`).
    private let answer: String
    let state = Mutex(State())
    let server: Mutex<TestHTTPServer?> = Mutex(nil)

    public init(
        apiKey: String = "test-key-\(UUID().uuidString.prefix(8))", granularity: Int = 256 * 1024,
        processingPolls: Int = 2,
        scenes: [[String: Any]]? = nil
    ) throws {
        self.apiKey = apiKey
        self.granularity = granularity
        self.processingPolls = processingPolls
        let scenes =
            scenes ?? [
                [
                    "start": "00:00", "end": "00:02.3", "description": "An opening shot", "labels": ["intro"],
                    "importance": 0.4,
                ],
                [
                    "start": "00:02.3", "end": "01:00", "description": "The main subject",
                    "labels": ["subject", "detail"], "importance": 0.9,
                ],
            ]
        self.answer = String(
            decoding: try JSONSerialization.data(
                withJSONObject: ["summary": "A test clip", "scenes": scenes], options: [.sortedKeys]), as: UTF8.self)
        let server = try TestHTTPServer(
            bodyLimit: { [weak self] request in
                guard request.header("x-goog-upload-command")?.contains("upload") == true else { return nil }
                return self?.takeBreak()
            },
            handler: { [weak self] request in self?.handle(request) ?? .drop })
        self.server.withLock { $0 = server }
    }

    deinit { stop() }

    private func takeBreak() -> Int? {
        state.withLock { state in
            defer { state.breakNextUploadAfter = nil }
            return state.breakNextUploadAfter
        }
    }

    public var endpoint: String { server.withLock { $0!.baseURL } }
    public func stop() { server.withLock { $0?.stop() } }

    /// Queues faults for the next `generateContent` calls, in order.
    public func inject(_ faults: Fault...) { state.withLock { $0.faults += faults } }
    /// Breaks the connection of the next upload chunk after `bytes` of its body.
    public func breakNextUpload(after bytes: Int) { state.withLock { $0.breakNextUploadAfter = bytes } }

    /// Every request: method, path, upload command, time.
    public var requests: [(method: String, path: String, command: String?, at: Date)] { state.withLock { $0.requests } }
    /// Requests the fake refused as protocol violations (should stay empty for a correct client).
    public var violations: [String] { state.withLock { $0.violations } }
    /// When each `generateContent` call arrived.
    public var generateCalls: [Date] { state.withLock { $0.generateCalls } }
    /// The JSON body of the last `generateContent` call.
    public var lastGenerateRequest: [String: Any]? {
        state.withLock { $0.lastPrompt }.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    func error(
        _ code: Int, _ status: String, _ message: String, details: [[String: Any]] = [], violation: Bool = true
    )
        -> TestHTTPReply
    {
        if violation { state.withLock { $0.violations.append("\(code) \(status): \(message)") } }
        return .json(code, ["error": ["code": code, "message": message, "status": status, "details": details]])
    }

    private func handle(_ request: TestHTTPRequest) -> TestHTTPReply {
        state.withLock {
            $0.requests.append((request.method, request.path, request.header("x-goog-upload-command"), Date()))
        }
        guard let key = request.header("x-goog-api-key") else {
            return error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers. Please use an API key.")
        }
        guard key == apiKey else {
            return error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        }
        if request.query["key"] != nil {
            return error(400, "INVALID_ARGUMENT", "the key belongs in the header, not the URL")
        }
        switch (request.method, request.path) {
        case ("POST", "/upload/v1beta/files"):
            if let id = request.query["upload_id"] { return uploadCommand(id, request) }
            return startUpload(request)
        case ("GET", let path) where path.hasPrefix("/v1beta/files/"):
            return getFile(String(path.dropFirst("/v1beta/".count)))
        case ("POST", let path) where path.hasPrefix("/v1beta/models/") && path.hasSuffix(":generateContent"):
            return generate(request)
        default:
            return error(404, "NOT_FOUND", "no route for \(request.method) \(request.path)")
        }
    }

    private func generate(_ request: TestHTTPRequest) -> TestHTTPReply {
        guard let body = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
            let contents = body["contents"] as? [[String: Any]],
            let parts = contents.first?["parts"] as? [[String: Any]]
        else { return error(400, "INVALID_ARGUMENT", "generateContent needs contents[0].parts") }
        state.withLock {
            $0.lastPrompt = request.body; $0.generateCalls.append(Date())
        }
        guard let config = body["generationConfig"] as? [String: Any],
            config["responseMimeType"] as? String == "application/json", config["responseJsonSchema"] is [String: Any]
        else {
            return error(400, "INVALID_ARGUMENT", "structured output needs responseMimeType and responseJsonSchema")
        }
        guard parts.contains(where: { $0["text"] is String }) else {
            return error(400, "INVALID_ARGUMENT", "no text part")
        }
        if let fileData = parts.compactMap({ $0["file_data"] as? [String: Any] }).first {
            guard let uri = fileData["file_uri"] as? String, fileData["mime_type"] is String else {
                return error(400, "INVALID_ARGUMENT", "file_data needs mime_type and file_uri")
            }
            let name = uri.components(separatedBy: "/v1beta/").last ?? ""
            guard let entry = state.withLock({ $0.files[name] }) else {
                return error(404, "NOT_FOUND", "no file \(name)")
            }
            guard entry.polls > processingPolls else {
                return error(
                    400, "FAILED_PRECONDITION", "The File \(name) is not in an ACTIVE state and usage is not allowed.")
            }
        } else if let inline = parts.compactMap({ $0["inline_data"] as? [String: Any] }).first {
            guard inline["mime_type"] is String, let data = inline["data"] as? String, Data(base64Encoded: data) != nil
            else {
                return error(400, "INVALID_ARGUMENT", "inline_data needs mime_type and base64 data")
            }
        } else {
            return error(400, "INVALID_ARGUMENT", "no video part")
        }
        let fault = state.withLock { $0.faults.isEmpty ? nil : $0.faults.removeFirst() }
        let usage: [String: Any] = ["promptTokenCount": 1290, "candidatesTokenCount": 180, "totalTokenCount": 1470]
        func candidate(_ text: String, _ reason: String) -> TestHTTPReply {
            .json(
                200,
                [
                    "candidates": [
                        ["content": ["parts": [["text": text]], "role": "model"], "finishReason": reason, "index": 0]
                    ],
                    "usageMetadata": usage, "modelVersion": "fake",
                ])
        }
        switch fault {
        case .rateLimited(let delay)?:
            var details: [[String: Any]] = [
                [
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [["quotaMetric": "generate_requests"]],
                ]
            ]
            if let delay { details.append(["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay]) }
            return error(
                429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", details: details, violation: false)
        case .unavailable?:
            return error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", violation: false)
        case .maxTokens?: return candidate(String(answer.prefix(answer.count / 2)), "MAX_TOKENS")
        case .safety?:
            return .json(200, ["candidates": [["finishReason": "SAFETY", "index": 0]], "usageMetadata": usage])
        case .promptBlocked?:
            return .json(200, ["promptFeedback": ["blockReason": "PROHIBITED_CONTENT"], "usageMetadata": usage])
        case .malformedJSON?: return candidate("{\"summary\": \"oops\", \"scenes\": [", "STOP")
        case nil: return candidate(answer, "STOP")
        }
    }
}
