import Foundation
import ReelStore

/// A real kube-apiserver (1.20, built by hack/build-kube.sh) on etcd, both on loopback, started by
/// hack/kube-up.sh in a temporary directory, with Reel's CRDs installed.
public final class KubeAPIServer: Sendable {
    public let directory: TemporaryDirectory
    /// `DIR/kubeconfig`: token auth and the server's CA.
    public var kubeconfig: String { directory.path("kubeconfig") }

    /// The binaries' directory (`REEL_KUBE_DIR`, else `~/.cache/reel/kube`).
    public static var binaries: String {
        (ProcessInfo.processInfo.environment["REEL_KUBE_DIR"] ?? NSHomeDirectory() + "/.cache/reel/kube") + "/bin"
    }

    /// Whether the server was built here (`REEL_SKIP_KUBE=1` set-ups skip it).
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: binaries + "/kube-apiserver") }

    public init() async throws {
        directory = try TemporaryDirectory(prefix: "kube")
        let root = ReelPaths.packageRoot.path
        let up = try await ProcessRunner.run("/bin/bash", ["\(root)/hack/kube-up.sh", directory.path("state")])
        guard up.status == 0 else { throw SampleMedia.Failure(description: "kube-up failed: \(up.output)") }
        try FileManager.default.copyItem(atPath: directory.path("state/kubeconfig"), toPath: kubeconfig)
        let crds = try await kubectl(["apply", "-f", "\(root)/crds/"])
        guard crds.status == 0 else { throw SampleMedia.Failure(description: "installing the CRDs failed: \(crds.output)") }
        let established = try await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/videojobs.reel.dev", "crd/workerpools.reel.dev"])
        guard established.status == 0 else { throw SampleMedia.Failure(description: "CRDs not established: \(established.output)") }
    }

    /// Runs kubectl against the server.
    public func kubectl(_ arguments: [String]) async throws -> ProcessRunner.Output {
        try await ProcessRunner.run(Self.binaries + "/kubectl", ["--kubeconfig", kubeconfig] + arguments)
    }

    /// Stops etcd and the server.
    public func stop() async {
        _ = try? await ProcessRunner.run("/bin/bash", [ReelPaths.packageRoot.path + "/hack/kube-down.sh", directory.path("state")])
    }
}
