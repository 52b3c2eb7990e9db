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
        #expect(try Self.greeting(port) == "hello from the child")
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

    /// What the server at 127.0.0.1:`port` sends on connecting.
    static func greeting(_ port: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        try #require(connected, "connect: \(String(cString: strerror(errno)))")
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
