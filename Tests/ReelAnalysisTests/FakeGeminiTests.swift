import Foundation
import ReelHTTP
import ReelTestSupport
import Testing

/// The fake is only as good as its strictness: it refuses what the real service refuses.
@Suite struct FakeGeminiTests {
    func send(
        _ fake: FakeGemini, _ method: String, _ path: String, key: Bool = true, headers: [(String, String)] = [],
        body: Data = Data()
    ) async throws -> HTTPResponse {
        let url = path.hasPrefix("http") ? path : fake.endpoint + path
        return try await HTTPClient.send(
            HTTPRequest(
                method: method, url: url, headers: (key ? [("x-goog-api-key", fake.apiKey)] : []) + headers, body: body)
        )
    }

    @Test func itRefusesRequestsWithoutTheKeyWithoutResumableHeadersAtAWrongOffsetAndBeforeActive() async throws {
        let fake = try FakeGemini(granularity: 4, processingPolls: 1)
        defer { fake.stop() }
        #expect(try await send(fake, "GET", "/v1beta/files/x", key: false).status == 403)
        #expect(try await send(fake, "POST", "/upload/v1beta/files", body: Data("{}".utf8)).status == 400)
        let start = try await send(
            fake, "POST", "/upload/v1beta/files",
            headers: [
                ("X-Goog-Upload-Protocol", "resumable"), ("X-Goog-Upload-Command", "start"),
                ("X-Goog-Upload-Header-Content-Length", "8"), ("X-Goog-Upload-Header-Content-Type", "video/mp4"),
            ], body: Data(#"{"file":{"display_name":"a.mp4"}}"#.utf8))
        let uploadURL = try #require(start.header("X-Goog-Upload-URL"))
        #expect(
            try await send(
                fake, "POST", uploadURL, headers: [("X-Goog-Upload-Command", "upload"), ("X-Goog-Upload-Offset", "4")],
                body: Data("abcd".utf8)
            ).status == 400, "the offset must be what was received")
        #expect(
            try await send(
                fake, "POST", uploadURL, headers: [("X-Goog-Upload-Command", "upload"), ("X-Goog-Upload-Offset", "0")],
                body: Data("abc".utf8)
            ).status == 400, "a middle chunk must be a multiple of the granularity")
        #expect(
            try await send(
                fake, "POST", uploadURL, headers: [("X-Goog-Upload-Command", "upload"), ("X-Goog-Upload-Offset", "0")],
                body: Data("abcd".utf8)
            ).status == 200)
        let query = try await send(fake, "POST", uploadURL, headers: [("X-Goog-Upload-Command", "query")])
        #expect(query.header("X-Goog-Upload-Size-Received") == "4")
        let final = try await send(
            fake, "POST", uploadURL,
            headers: [("X-Goog-Upload-Command", "upload, finalize"), ("X-Goog-Upload-Offset", "4")],
            body: Data("efgh".utf8))
        let file = try #require(
            (try JSONSerialization.jsonObject(with: final.body) as? [String: Any])?["file"] as? [String: Any])
        #expect(file["state"] as? String == "PROCESSING")
        let generate = try JSONSerialization.data(withJSONObject: [
            "contents": [
                ["parts": [["file_data": ["mime_type": "video/mp4", "file_uri": file["uri"]!]], ["text": "scenes"]]]
            ],
            "generationConfig": ["responseMimeType": "application/json", "responseJsonSchema": ["type": "object"]],
        ])
        let early = try await send(fake, "POST", "/v1beta/models/m:generateContent", body: generate)
        #expect(early.status == 400 && String(decoding: early.body, as: UTF8.self).contains("not in an ACTIVE state"))
        let poll = try await send(fake, "GET", "/v1beta/\(file["name"]!)")
        #expect(
            (try JSONSerialization.jsonObject(with: poll.body) as? [String: Any])?["state"] as? String == "PROCESSING")
        _ = try await send(fake, "GET", "/v1beta/\(file["name"]!)")
        #expect(try await send(fake, "POST", "/v1beta/models/m:generateContent", body: generate).status == 200)
        #expect(fake.violations.count == 5)
    }
}
