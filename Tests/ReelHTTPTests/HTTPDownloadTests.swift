import Dispatch
import Foundation
import ReelTestSupport
import Testing

@testable import ReelHTTP

/// `HTTPClient.download` against a source that sends its headers and then stalls: the attempt ends after the
/// low-speed window as a retryable transport error, and the stall never reaches the whole-transfer limits.
@Suite struct HTTPDownloadTests {
    @Test func aStalledSourceFailsAfterTheLowSpeedWindowAsARetryableError() async throws {
        let release = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer { _ in
            .stream(status: 200, headers: [("Content-Type", "video/mp4")]) { write in
                _ = write(Data(repeating: 0, count: 1000))
                release.wait()
                return false
            }
        }
        defer {
            server.stop()
            release.signal()
        }
        let directory = try TemporaryDirectory()
        let started = ContinuousClock.now
        do {
            _ = try await HTTPClient.download(
                "http://127.0.0.1:\(server.port)/talk.mp4", to: directory.path("talk.mp4"), maxBytes: 1 << 20,
                lowSpeedTimeout: .seconds(2))
            Issue.record("a stalled download succeeded")
        } catch {
            #expect(error.code == .transport && error.isRetryable, "\(error)")
            #expect(error.message.lowercased().contains("too slow"), "\(error.message)")
        }
        // It gave up because nothing came for the window, not because of another limit.
        #expect(ContinuousClock.now - started >= .seconds(2))
    }
}
