import Foundation
import ReelHTTP
import ReelStore
import ReelSupport

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

    /// Whether `REEL_SKIP_KUBE=1` asks to skip every check that needs the server. Without it the Kubernetes
    /// suites run, and fail (rather than skip) when the server was not built: a missing binary must not turn
    /// them green.
    public static var skipped: Bool { ProcessInfo.processInfo.environment["REEL_SKIP_KUBE"] == "1" }

    /// What hack/kube-up.sh printed (a port it found taken and passed over, the address it is ready on).
    public let startOutput: String

    /// `flags` are added to kube-apiserver's (`--watch-cache=false` makes watches read etcd, so an etcd
    /// compaction expires old resourceVersions at once); `environment` to kube-up.sh's.
    public init(flags: [String] = [], environment: [String: String] = [:]) async throws {
        guard Self.available else {
            throw SampleMedia.Failure(
                description:
                    "no kube-apiserver in \(Self.binaries): run hack/build-kube.sh, or set REEL_SKIP_KUBE=1 to skip "
                    + "the Kubernetes checks")
        }
        directory = try TemporaryDirectory(prefix: "kube")
        let root = ReelPaths.packageRoot.path
        let up = try await ProcessRunner.run(
            "/usr/bin/env",
            [
                "REEL_APISERVER_FLAGS=\(flags.joined(separator: " "))"
            ] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [
                "/bin/bash", "\(root)/hack/kube-up.sh", directory.path("state"),
            ])
        guard up.status == 0 else { throw SampleMedia.Failure(description: "kube-up failed: \(up.output)") }
        startOutput = up.output
        try FileManager.default.copyItem(atPath: directory.path("state/kubeconfig"), toPath: kubeconfig)
        let crds = try await kubectl(["apply", "-f", "\(root)/crds/"])
        guard crds.status == 0 else {
            throw SampleMedia.Failure(description: "installing the CRDs failed: \(crds.output)")
        }
        // One CRD at a time, and again on a failure: kubectl 1.20's wait over several objects sometimes exits 1
        // although every condition was met (seen once in CI, with nothing on stderr).
        for crd in ["crd/videojobs.reel.dev", "crd/workerpools.reel.dev"] {
            var last: ProcessRunner.Output? = nil
            for _ in 0..<5 {
                let established = try await kubectl(["wait", "--for=condition=Established", "--timeout=30s", crd])
                last = established
                if established.status == 0 { break }
            }
            guard let last, last.status == 0 else {
                throw SampleMedia.Failure(description: "\(crd) not established: \(last?.output ?? "")")
            }
        }
    }

    /// A value of `state/env` (`APISERVER_URL`, `APISERVER_TOKEN`, `ETCD_URL`…).
    public func environment(_ name: String) -> String? {
        let text = (try? String(contentsOfFile: directory.path("state/env"), encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(name + "=") {
            return String(line.dropFirst(name.count + 1))
        }
        return nil
    }

    /// The server's URL, an admin token and the CA that signed its certificate.
    public var url: String { environment("APISERVER_URL") ?? "" }
    public var token: String { environment("APISERVER_TOKEN") ?? "" }
    public var caFile: String { directory.path("state/certs/apiserver.crt") }

    /// Compacts etcd's history up to its current revision (what etcd does on its own every few minutes), so
    /// resourceVersions from before are gone.
    public func compactEtcd() async throws {
        guard let etcd = environment("ETCD_URL") else {
            throw SampleMedia.Failure(description: "no ETCD_URL in state/env")
        }
        let status = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: etcd + "/v3/kv/range", headers: [("Content-Type", "application/json")],
                body: Data(#"{"key":"AA==","limit":1}"#.utf8), timeout: .seconds(10)))
        guard let json = try JSONSerialization.jsonObject(with: status.body) as? [String: Any],
            let header = json["header"] as? [String: Any], let revision = header["revision"] as? String
        else {
            throw SampleMedia.Failure(
                description: "etcd range answered \(String(decoding: status.body, as: UTF8.self))")
        }
        let compacted = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: etcd + "/v3/kv/compaction", headers: [("Content-Type", "application/json")],
                body: Data(#"{"revision":"\#(revision)","physical":true}"#.utf8), timeout: .seconds(30)))
        guard compacted.status == 200 else {
            throw SampleMedia.Failure(
                description:
                    "etcd compaction answered \(compacted.status): \(String(decoding: compacted.body, as: UTF8.self))")
        }
    }

    /// Runs kubectl against the server.
    public func kubectl(_ arguments: [String]) async throws -> ProcessRunner.Output {
        try await ProcessRunner.run(Self.binaries + "/kubectl", ["--kubeconfig", kubeconfig] + arguments)
    }

    /// Stops etcd and the server.
    public func stop() async {
        _ = try? await ProcessRunner.run(
            "/bin/bash", [ReelPaths.packageRoot.path + "/hack/kube-down.sh", directory.path("state")])
    }
}
