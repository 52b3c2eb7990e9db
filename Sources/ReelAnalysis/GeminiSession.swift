import FoundationEssentials
import ReelHTTP
import ReelAPI

/// One chunk's conversation with the API: calls with retries, the resumable upload, polling, generateContent.
/// Counts the requests and tokens it spent.
struct GeminiSession {
    let configuration: GeminiConfiguration
    var usage = AnalysisUsage()

    init(configuration: GeminiConfiguration) { self.configuration = configuration }

    /// An API error body: `{"error":{"code","message","status","details"}}`.
    struct APIError: Decodable {
        struct Body: Decodable {
            var code: Int?
            var message: String?
            var status: String?
            var details: [Detail]?
        }

        struct Detail: Decodable {
            var type: String?
            var retryDelay: String?

            enum CodingKeys: String, CodingKey {
                case type = "@type"
                case retryDelay
            }
        }

        var error: Body
    }

    /// Sends with the key header, retrying transport errors, 429 (after `RetryInfo.retryDelay` when given) and
    /// 500/503/504; other 4xx are permanent. Returns a 2xx response.
    func call(_ request: HTTPRequest, what: String) async throws(AnalysisError) -> HTTPResponse {
        var request = request
        request.headers.append(("x-goog-api-key", configuration.apiKey))
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPResponse
            do {
                response = try await HTTPClient.send(request)
            } catch {
                guard attempt < configuration.retry.maxAttempts else {
                    throw AnalysisError(
                        reason: "ServiceUnavailable", message: "\(what): \(error.message)", retryable: true)
                }
                try await pause(configuration.retry.delay(after: attempt))
                continue
            }
            if (200..<300).contains(response.status) { return response }
            let body = try? JSONDecoder().decode(APIError.self, from: response.body)
            let message =
                "\(what): HTTP \(response.status) \(body?.error.status ?? ""): \(body?.error.message ?? "no message")"
            switch response.status {
            case 429, 500, 503, 504:
                guard attempt < configuration.retry.maxAttempts else {
                    throw AnalysisError(
                        reason: response.status == 429 ? "RateLimited" : "ServiceUnavailable", message: message,
                        retryable: true)
                }
                let hinted = body?.error.details?.first { $0.type?.hasSuffix("google.rpc.RetryInfo") == true }?
                    .retryDelay
                    .flatMap(Self.duration)
                try await pause(configuration.retry.delay(after: attempt, serverDelay: hinted ?? response.retryAfter))
            case 400: throw AnalysisError(reason: "InvalidArgument", message: message, retryable: false)
            case 401, 403: throw AnalysisError(reason: "PermissionDenied", message: message, retryable: false)
            case 404: throw AnalysisError(reason: "NotFound", message: message, retryable: false)
            default: throw AnalysisError(reason: "RequestFailed", message: message, retryable: response.status >= 500)
            }
        }
    }

    func pause(_ duration: Duration) async throws(AnalysisError) {
        do { try await Task.sleep(for: duration) } catch {
            throw AnalysisError(reason: "Cancelled", message: "cancelled while waiting to retry", retryable: true)
        }
    }

    /// `"1.5s"` (protobuf Duration JSON) as a duration.
    static func duration(_ text: String) -> Duration? {
        guard text.hasSuffix("s"), let seconds = Double(text.dropLast()), seconds >= 0 else { return nil }
        return .milliseconds(Int(seconds * 1000))
    }

    // MARK: generateContent

    /// Asks for the scenes. `nil` when the answer was cut off at MAX_TOKENS (the caller asks again, briefer).
    mutating func generate(videoPart: JSONValue, brief: Bool) async throws(AnalysisError) -> GeminiAnswer? {
        var prompt = configuration.prompt
        if brief { prompt += " Keep it short: at most 8 scenes, descriptions of at most 12 words." }
        let body: JSONValue = [
            "contents": [["role": "user", "parts": [videoPart, ["text": .string(prompt)]]]],
            "generationConfig": [
                "responseMimeType": "application/json", "responseJsonSchema": Self.responseSchema,
                "temperature": .double(0.2),
            ],
        ]
        guard let data = try? JSONEncoder().encode(body) else {
            throw AnalysisError(reason: "AnalysisFailed", message: "cannot encode the request", retryable: false)
        }
        let estimate = 300 + data.count / 1000
        var malformed = 0
        while true {
            var ticket: Int64?
            if let budget = configuration.budget {
                do { ticket = try await budget.acquire(tokens: estimate) } catch {
                    throw AnalysisError(
                        reason: "RateLimited", message: "waiting for the request budget: \(error)", retryable: true)
                }
            }
            let response = try await call(
                HTTPRequest(
                    method: "POST",
                    url: "\(configuration.endpoint)/v1beta/models/\(configuration.model):generateContent",
                    headers: [("Content-Type", "application/json")], body: data),
                what: "generateContent")
            usage.requests += 1
            let reply = try? JSONDecoder().decode(Reply.self, from: response.body)
            usage.promptTokens += reply?.usageMetadata?.promptTokenCount ?? 0
            usage.outputTokens += reply?.usageMetadata?.candidatesTokenCount ?? 0
            if let ticket {
                await configuration.budget?.record(ticket, actual: reply?.usageMetadata?.totalTokenCount ?? estimate)
            }
            guard let reply else {
                throw AnalysisError(
                    reason: "InvalidResponse", message: "generateContent answered with something that is not JSON",
                    retryable: true)
            }
            if let blocked = reply.promptFeedback?.blockReason {
                throw AnalysisError(
                    reason: Self.camel(blocked), message: "the prompt was blocked: \(blocked)", retryable: false)
            }
            guard let candidate = reply.candidates?.first else {
                throw AnalysisError(
                    reason: "InvalidResponse", message: "generateContent returned no candidate", retryable: true)
            }
            let finish = candidate.finishReason ?? "STOP"
            if finish == "MAX_TOKENS" { return nil }
            guard finish == "STOP" else {
                throw AnalysisError(
                    reason: Self.camel(finish), message: "the model stopped: \(finish)", retryable: false)
            }
            let text = (candidate.content?.parts ?? []).compactMap(\.text).joined()
            if let answer = try? JSONDecoder().decode(GeminiAnswer.self, from: Data(text.utf8)) { return answer }
            malformed += 1
            guard malformed < 2 else {
                throw AnalysisError(
                    reason: "MalformedResponse", message: "the answer did not match the response schema",
                    retryable: true)
            }
        }
    }

    struct Reply: Decodable {
        struct Candidate: Decodable {
            struct Content: Decodable {
                struct Part: Decodable { var text: String? }
                var parts: [Part]?
            }
            var content: Content?
            var finishReason: String?
        }
        struct Feedback: Decodable { var blockReason: String? }
        struct Usage: Decodable {
            var promptTokenCount: Int?
            var candidatesTokenCount: Int?
            var totalTokenCount: Int?
        }
        var candidates: [Candidate]?
        var promptFeedback: Feedback?
        var usageMetadata: Usage?
    }

    /// `PROHIBITED_CONTENT` → `ProhibitedContent`.
    static func camel(_ text: String) -> String {
        text.lowercased().split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static var responseSchema: JSONValue {
        [
            "type": "object", "required": ["summary", "scenes"],
            "properties": [
                "summary": ["type": "string"],
                "scenes": [
                    "type": "array",
                    "items": [
                        "type": "object", "required": ["start", "end", "description", "labels", "importance"],
                        "properties": [
                            "start": ["type": "string", "description": "MM:SS from the start of the clip"],
                            "end": ["type": "string", "description": "MM:SS from the start of the clip"],
                            "description": ["type": "string"],
                            "labels": ["type": "array", "items": ["type": "string"]],
                            "importance": ["type": "number", "minimum": 0, "maximum": 1],
                        ],
                    ],
                ],
            ],
        ]
    }
}
