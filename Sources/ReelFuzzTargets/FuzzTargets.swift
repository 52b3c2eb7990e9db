import Foundation
import ReelAPI
import ReelKube
import ReelMedia
import ReelSupport
import ReelYAML

/// What the fuzzers feed bytes to: each target runs one input through a parser Reel exposes to untrusted input and
/// must return (an error is a fine answer) without crashing, hanging or touching memory it does not own.
/// `reel-fuzz` runs them under libFuzzer with AddressSanitizer; `FuzzRegressionTests` replays the seed corpus and
/// every input that once crashed (`Tests/Fuzz/<target>/`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// VideoJob and WorkerPool manifests: ReelYAML's parser and `ResourceDecoder` (what `reel validate`, the
    /// directory watcher and the REST API's YAML bodies read).
    case yaml
    /// What the API server sends: watch lines, lists, Status documents, Leases, Events, Deployments, Secrets,
    /// and a VideoJob's JSON through `ResourceDecoder`.
    case kube
    /// A source file: probe, verify, and split by stream copy (what ingest and split do to whatever a user uploads).
    case media

    /// Runs one input; `scratch` is a directory the media target may write to.
    public func run(_ bytes: [UInt8], scratch: String) async {
        switch self {
        case .yaml: Self.yaml(bytes)
        case .kube: Self.kube(Data(bytes))
        case .media: await Self.media(bytes, scratch: scratch)
        }
    }

    static func yaml(_ bytes: [UInt8]) {
        let report = ManifestReport.read(bytes: bytes)
        // Reading the outcome is part of the work: messages are built lazily from marks and paths.
        _ = "\(report)".count
    }

    static func kube(_ data: Data) {
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            _ = try? KubeClient.watchEvent(Data(line))
        }
        _ = KubeClient.status(422, data)
        _ = try? KubeClient.decodeList(data)
        _ = Informer.key(data)
        _ = try? decoder.decode(Lease.self, from: data)
        _ = try? decoder.decode(KubeEvent.self, from: data)
        _ = try? decoder.decode(DeploymentSummary.self, from: data)
        _ = try? decoder.decode(Secret.self, from: data)
        if let json = try? decoder.decode(JSONValue.self, from: data) {
            _ = "\(ResourceDecoder.decode(json: json))".count
        }
    }

    static func media(_ bytes: [UInt8], scratch: String) async {
        let directory = "\(scratch)/\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/input"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        guard (try? await MediaEngine.probe(path, keyframes: true)) != nil else { return }
        _ = try? await MediaEngine.verify(path)
        _ = try? await MediaEngine.split(path, targetSeconds: 0.5, outputDirectory: "\(directory)/chunks")
    }
}
