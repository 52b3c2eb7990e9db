import Foundation
import ReelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// hack/kube-up.sh picks etcd's and kube-apiserver's ports just before starting them (neither can listen on port 0
/// and say which it got). When another program takes one in between, it starts both again on new ports rather
/// than fail the suite that asked for a cluster.
@Suite(.disabled(if: KubeAPIServer.skipped, "REEL_SKIP_KUBE=1"))
struct KubeUpTests {
    @Test func aPortTakenBeforeTheServerBindsItIsPassedOverForAnother() async throws {
        let held = try HeldPort()
        defer { close(held.fd) }
        let server = try await KubeAPIServer(environment: ["KUBE_UP_PORTS": "0 0 \(held.port)"])
        #expect(server.startOutput.contains(" \(held.port) was taken by another program"), "\(server.startOutput)")
        #expect(!server.url.hasSuffix(":\(held.port)") && server.url.hasPrefix("https://127.0.0.1:"), "\(server.url)")
        let namespaces = try? await server.kubectl(["get", "namespace", "default", "-o", "name"])
        #expect(namespaces?.output.contains("namespace/default") == true, "\(namespaces?.output ?? "")")
        await server.stop()
    }

    /// A loopback port this process listens on (and never answers), as another program's server would.
    struct HeldPort {
        let fd: Int32
        let port: Int

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(descriptor >= 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let listening = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length) == 0 && listen(descriptor, 4) == 0
                        && getsockname(descriptor, pointer, &length) == 0
                }
            }
            let reason = String(cString: strerror(errno))
            try #require(listening, "\(reason)")
            fd = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
        }
    }
}
