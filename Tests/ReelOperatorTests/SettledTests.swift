import Foundation
import Testing

@testable import ReelOperator

/// Which VideoJobs the periodic resync may leave alone, as the Kubernetes backend reads them from its cache.
@Suite struct SettledTests {
    static func object(generation: Int, status: String?, deleting: Bool = false) throws -> KubeObject {
        let deletion = deleting ? ", \"deletionTimestamp\": \"2026-12-01T10:00:00Z\"" : ""
        let json = """
            {"apiVersion": "reel.dev/v1alpha1", "kind": "VideoJob",
             "metadata": {"name": "a", "namespace": "default", "generation": \(generation)\(deletion)},
             "spec": {"source": {"uri": "file:///a.mp4"}}\(status.map { ", \"status\": \($0)" } ?? "")}
            """
        return try JSONDecoder().decode(KubeObject.self, from: Data(json.utf8))
    }

    @Test func onlyAFinishedOrSuspendedStatusOfTheCurrentGenerationSettlesAJob() throws {
        let settled = [
            (1, #"{"observedGeneration": 1, "phase": "Succeeded"}"#),
            (3, #"{"observedGeneration": 3, "phase": "Failed"}"#),
            (2, #"{"observedGeneration": 2, "phase": "Suspended"}"#),
            (1, #"{"observedGeneration": 1, "phase": "Expired"}"#),
        ]
        for (generation, status) in settled {
            #expect(KubernetesBackend.isSettled(try Self.object(generation: generation, status: status)), "\(status)")
        }
        let unsettled: [(Int, String?, Bool)] = [
            (1, nil, false), (1, #"{"observedGeneration": 1, "phase": "Analyzing"}"#, false),
            (2, #"{"observedGeneration": 1, "phase": "Succeeded"}"#, false),
            (1, #"{"phase": "Succeeded"}"#, false), (1, #"{"observedGeneration": 1, "phase": "Succeeded"}"#, true),
        ]
        for (generation, status, deleting) in unsettled {
            let object = try Self.object(generation: generation, status: status, deleting: deleting)
            #expect(!KubernetesBackend.isSettled(object), "\(status ?? "no status") deleting: \(deleting)")
        }
    }
}
