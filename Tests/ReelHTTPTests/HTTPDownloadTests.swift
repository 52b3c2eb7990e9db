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

/// `AddressPolicy` and its gate on libcurl's sockets: public addresses only unless allowed, checked on the
/// address actually connected to — redirects included.
@Suite struct AddressPolicyTests {
    static func bytes(_ text: String) -> [UInt8] { AddressPolicy.Range(text)!.bytes }

    @Test func privateRangesAreRefusedUnlessAllowed() throws {
        let policy = AddressPolicy()
        for address in [
            "127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1",
            "fe80::1", "fd00::1", "0.0.0.0",
        ] {
            #expect(policy.refusal(Self.bytes(address)) != nil, "\(address)")
        }
        for address in ["8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "100.128.0.1"] {
            #expect(policy.refusal(Self.bytes(address)) == nil, "\(address)")
        }
        #expect(policy.refusal(Self.bytes("169.254.169.254"))?.contains("metadata") == true)
        let allowed = try AddressPolicy.parsing(["10.0.0.0/8", "127.0.0.1", "localhost"])
        #expect(allowed.refusal(Self.bytes("10.200.0.1")) == nil && allowed.refusal(Self.bytes("127.0.0.1")) == nil)
        #expect(allowed.refusal(Self.bytes("127.0.0.2")) != nil && allowed.refusal(Self.bytes("192.168.0.1")) != nil)
        #expect(throws: HTTPError.self) { try AddressPolicy.parsing(["no such host.invalid"]) }
        #expect(AddressPolicy.Range("10.0.0.0/33") == nil && AddressPolicy.Range("10.0.0.0/8") != nil)
    }

    @Test func theGateRefusesTheFirstConnectionAndEveryRedirect() async throws {
        let server = try TestHTTPServer { request in
            request.path == "/hop"
                ? .response(status: 302, headers: [("Location", "http://127.0.0.2:1/x.mp4")], body: Data())
                : .response(status: 200, headers: [], body: Data("video".utf8))
        }
        defer { server.stop() }
        let directory = try TemporaryDirectory()
        let url = "http://127.0.0.1:\(server.port)"
        do {
            _ = try await HTTPClient.download(
                "\(url)/x.mp4", to: directory.path("a"), maxBytes: 100, addresses: AddressPolicy())
            Issue.record("a loopback source was fetched")
        } catch {
            #expect(error.code == .refused && !error.isRetryable)
            #expect(error.message.contains("127.0.0.1, a loopback address"), "\(error.message)")
        }
        let loopbackOne = AddressPolicy(allowing: [AddressPolicy.Range("127.0.0.1")!])
        let fetched = try await HTTPClient.download(
            "\(url)/x.mp4", to: directory.path("b"), maxBytes: 100, addresses: loopbackOne)
        #expect(fetched.bytes == 5)
        do {
            _ = try await HTTPClient.download(
                "\(url)/hop", to: directory.path("c"), maxBytes: 100, addresses: loopbackOne)
            Issue.record("a redirect to a refused address was followed")
        } catch {
            #expect(error.code == .refused && error.message.contains("127.0.0.2"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("c")))
    }
}
