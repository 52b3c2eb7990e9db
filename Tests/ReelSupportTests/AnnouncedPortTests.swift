import Foundation
import Testing

@testable import ReelTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Test servers listen on port 0 and say which port they got. A port picked beforehand (bind to 0, close, pass
/// the number on) was taken by another test's server once in CI: moto then exited with "Address already in use",
/// and the other server had answered the check that moto listened.
@Suite("Ports a child says it listens on")
struct AnnouncedPortTests {
    /// A Python child that listens on port 0, prints `line` with the port, and greets whoever connects.
    static let greeter = """
        import socket, sys, time
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
        print("ready: serving on http://127.0.0.1:%d/api" % s.getsockname()[1], flush=True)
        c, _ = s.accept(); c.sendall(b"hello from " + sys.argv[1].encode()); c.close()
        time.sleep(30)
        """

    @Test func thePortIsTheOneTheChildBound() async throws {
        let directory = try TemporaryDirectory(prefix: "announced-port")
        let child = try BackgroundProcess(
            "/usr/bin/python3", ["-c", Self.greeter, "the child"], outputPath: directory.path("out.log"))
        defer { child.send(SIGKILL) }
        let port = try await child.announcedPort(after: "serving on http://127.0.0.1", timeout: .seconds(30))
        let fd = try Loopback.connect(port)
        defer { close(fd) }
        #expect(String(decoding: Loopback.readAll(fd), as: UTF8.self) == "hello from the child")
    }

    @Test func aChildThatExitsFirstIsAnErrorWithItsOutput() async throws {
        let directory = try TemporaryDirectory(prefix: "announced-port")
        let child = try BackgroundProcess(
            "/bin/sh", ["-c", "echo 'Port 36305 is in use by another program.' >&2; exit 1"],
            outputPath: directory.path("out.log"))
        let error = await #expect(throws: (any Error).self) {
            try await child.announcedPort(after: "Running on http://127.0.0.1", timeout: .seconds(30))
        }
        let text = "\(error.map { String(describing: $0) } ?? "")"
        #expect(text.contains("exited") && text.contains("in use by another program"), "\(text)")
    }

    @Test func aPortIsReadOnlyOnceItsDigitsEnd() {
        let marker = "serving /metrics on 127.0.0.1"
        #expect(BackgroundProcess.port(after: marker, in: "x serving /metrics on 127.0.0.1:4373") == nil)
        #expect(BackgroundProcess.port(after: marker, in: "x serving /metrics on 127.0.0.1:43731\n") == 43731)
        #expect(BackgroundProcess.port(after: marker, in: "serving /metrics on 127.0.0.1:0\n") == nil)
        #expect(BackgroundProcess.port(after: marker, in: "serving /healthz on 127.0.0.1:80\n") == nil)
        #expect(
            BackgroundProcess.port(
                after: "serving /healthz, /readyz on 127.0.0.1",
                in: "serving /healthz, /readyz, /metrics on 127.0.0.1:81\nserving /healthz, /readyz on 127.0.0.1:82\n")
                == 82)
    }
}
