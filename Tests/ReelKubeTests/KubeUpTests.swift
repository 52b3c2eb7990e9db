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
        let held = try Loopback.listen()  // as another program's server would
        defer { close(held.fd) }
        let server = try await KubeAPIServer(environment: ["KUBE_UP_PORTS": "0 0 \(held.port)"])
        #expect(server.startOutput.contains(" \(held.port) was taken by another program"), "\(server.startOutput)")
        #expect(!server.url.hasSuffix(":\(held.port)") && server.url.hasPrefix("https://127.0.0.1:"), "\(server.url)")
        let namespaces = try? await server.kubectl(["get", "namespace", "default", "-o", "name"])
        #expect(namespaces?.output.contains("namespace/default") == true, "\(namespaces?.output ?? "")")
        await server.stop()
    }
}
