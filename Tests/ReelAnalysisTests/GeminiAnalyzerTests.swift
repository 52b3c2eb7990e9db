import Foundation
import ReelHTTP
import ReelTestSupport
import Testing

@testable import ReelAnalysis

/// The Gemini client against the strict fake: every protocol path, every fault.
@Suite struct GeminiAnalyzerTests {
    /// A file that cannot be read mid-upload fails the analysis; the upload used to send the unread stretch as
    /// empty chunks and go round without end.
    @Test(.timeLimit(.minutes(1)))
    func anUnreadableFileFailsTheUploadInsteadOfSendingEmptyChunks() async throws {
        let fake = try FakeGemini(granularity: 32 * 1024)
        defer { fake.stop() }
        let directory = try TemporaryDirectory(prefix: "unreadable")
        var session = GeminiSession(configuration: Self.configuration(fake))
        // A directory opens for reading but every read fails (EISDIR).
        let error = await #expect(throws: AnalysisError.self) {
            _ = try await session.upload(path: directory.url.path, size: 100_000, mimeType: "video/mp4")
        }
        #expect(error?.reason == "AnalysisFailed" && error?.message.contains("cannot read") == true)
    }

    static func configuration(_ fake: FakeGemini, inlineMaxBytes: Int = 0) -> GeminiConfiguration {
        GeminiConfiguration(
            apiKey: fake.apiKey, endpoint: fake.endpoint, inlineMaxBytes: inlineMaxBytes, uploadChunkBytes: 32 * 1024,
            retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(20), maxDelay: .seconds(2)),
            pollInterval: .milliseconds(20))
    }

    /// A 4 s sample chunk: cuts at 2 s.
    static func chunk() async throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory(prefix: "gemini")
        return (directory, try await SampleMedia.sample(in: directory, seconds: 4))
    }

    @Test func resumableUploadPollsUntilActiveAndSnapsModelTimesToCuts() async throws {
        let fake = try FakeGemini(granularity: 32 * 1024, processingPolls: 2)
        let (directory, path) = try await Self.chunk()
        let analysis = try await GeminiAnalyzer(configuration: Self.configuration(fake)).analyze(
            path: path, duration: 4)
        #expect(fake.violations.isEmpty, "\(fake.violations)")
        let commands = fake.requests.compactMap(\.command)
        #expect(commands.first == "start" && commands.last == "upload, finalize")
        #expect(commands.filter { $0 == "upload" }.count >= 2, "several chunks at the announced granularity")
        #expect(fake.requests.filter { $0.method == "GET" }.count == 3, "two PROCESSING polls, then ACTIVE")
        #expect(analysis.summary == "A test clip")
        #expect(
            analysis.scenes.map { [$0.start, $0.end] } == [[0, 2], [2, 4]],
            "2.3 s snapped to the cut at 2 s; 60 s clamped")
        #expect(analysis.scenes.map(\.modelStart) == [0, 2.3])
        #expect(analysis.scenes[1].labels == ["subject", "detail"] && analysis.scenes[1].importance == 0.9)
        #expect(analysis.usage == AnalysisUsage(promptTokens: 1290, outputTokens: 180, requests: 1))
        let request = try #require(fake.lastGenerateRequest)
        let parts = try #require((request["contents"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]])
        #expect((parts.first?["file_data"] as? [String: Any])?["mime_type"] as? String == "video/mp4")
        _ = directory
    }

    @Test func aBrokenUploadIsResumedFromWhatTheServerReceived() async throws {
        let fake = try FakeGemini(granularity: 64 * 1024)
        fake.breakNextUpload(after: 10_000)
        let (directory, path) = try await Self.chunk()
        let analysis = try await GeminiAnalyzer(configuration: Self.configuration(fake)).analyze(
            path: path, duration: 4)
        #expect(fake.violations.isEmpty, "\(fake.violations)")
        #expect(fake.requests.contains { $0.command == "query" })
        #expect(analysis.scenes.count == 2)
        _ = directory
    }

    @Test func smallChunksGoInline() async throws {
        let fake = try FakeGemini()
        let (directory, path) = try await Self.chunk()
        _ = try await GeminiAnalyzer(configuration: Self.configuration(fake, inlineMaxBytes: 15_000_000)).analyze(
            path: path, duration: 4)
        #expect(fake.violations.isEmpty)
        #expect(fake.requests.map(\.path).allSatisfy { $0.hasSuffix(":generateContent") })
        let parts = (fake.lastGenerateRequest?["contents"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]]
        #expect(parts?.first?["inline_data"] != nil)
        _ = directory
    }

    @Test(arguments: [
        [FakeGemini.Fault.rateLimited(retryDelay: "0.05s")], [.rateLimited(retryDelay: nil)], [.unavailable],
        [.malformedJSON], [.unavailable, .rateLimited(retryDelay: "0.01s"), .unavailable],
    ])
    func transientFaultsAreRetried(faults: [FakeGemini.Fault]) async throws {
        let fake = try FakeGemini()
        for fault in faults { fake.inject(fault) }
        let (directory, path) = try await Self.chunk()
        let analysis = try await GeminiAnalyzer(configuration: Self.configuration(fake, inlineMaxBytes: 15_000_000))
            .analyze(path: path, duration: 4)
        #expect(analysis.scenes.count == 2)
        #expect(fake.generateCalls.count == faults.count + 1)
        _ = directory
    }

    @Test func maxTokensAsksAgainForAShorterAnswer() async throws {
        let fake = try FakeGemini()
        fake.inject(.maxTokens)
        let (directory, path) = try await Self.chunk()
        let analysis = try await GeminiAnalyzer(configuration: Self.configuration(fake, inlineMaxBytes: 15_000_000))
            .analyze(path: path, duration: 4)
        #expect(analysis.scenes.count == 2 && analysis.usage.requests == 2)
        let parts = (fake.lastGenerateRequest?["contents"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]]
        #expect((parts?.last?["text"] as? String)?.contains("Keep it short") == true)
        _ = directory
    }

    @Test(arguments: [
        (FakeGemini.Fault.safety, "Safety"), (.promptBlocked, "ProhibitedContent"),
    ])
    func blockedContentFailsPermanentlyWithItsReason(fault: FakeGemini.Fault, reason: String) async throws {
        let fake = try FakeGemini()
        fake.inject(fault)
        let (directory, path) = try await Self.chunk()
        await #expect {
            try await GeminiAnalyzer(configuration: Self.configuration(fake, inlineMaxBytes: 15_000_000)).analyze(
                path: path, duration: 4)
        } throws: { ($0 as? AnalysisError)?.reason == reason && ($0 as? AnalysisError)?.retryable == false }
        _ = directory
    }

    @Test func endlessRateLimitingIsARetryableFailureAndAWrongKeyAPermanentOneWithoutTheKey() async throws {
        let fake = try FakeGemini()
        for _ in 0..<4 { fake.inject(.rateLimited(retryDelay: "0.01s")) }
        let (directory, path) = try await Self.chunk()
        let inline = Self.configuration(fake, inlineMaxBytes: 15_000_000)
        await #expect { try await GeminiAnalyzer(configuration: inline).analyze(path: path, duration: 4) } throws: {
            ($0 as? AnalysisError)?.reason == "RateLimited" && ($0 as? AnalysisError)?.retryable == true
        }
        var wrong = inline
        wrong.apiKey = "wrong-secret-key-123"
        do {
            _ = try await GeminiAnalyzer(configuration: wrong).analyze(path: path, duration: 4)
            Issue.record("a wrong key must fail")
        } catch {
            #expect(error.reason == "InvalidArgument" && !error.retryable)
            #expect(!error.description.contains("wrong-secret-key-123"))
        }
        _ = directory
    }

    @Test(
        arguments: [
            ("01:05", 65.0), ("00:02.5", 2.5), ("1:02:03", 3723.0), ("12.25", 12.25), ("5:75", nil), ("x", nil),
        ] as [(String, Double?)])
    func modelTimesParse(text: String, seconds: Double?) {
        #expect(GeminiTimes.seconds(text) == seconds)
    }

    @Test func snappingClampsAndMovesOnlyWithinTheTolerance() {
        #expect(GeminiTimes.snap(2.4, duration: 10, cuts: [2, 7], tolerance: 1) == 2)
        #expect(GeminiTimes.snap(4.5, duration: 10, cuts: [2, 7], tolerance: 1) == 4.5)
        #expect(GeminiTimes.snap(12, duration: 10, cuts: [2, 7], tolerance: 1) == 10)
        #expect(GeminiTimes.snap(0.6, duration: 10, cuts: [], tolerance: 1) == 0)
    }
}
