import FoundationEssentials
import Logging
import ReelAPI
import ReelKube
import ReelCore
import ReelYAML
import ServiceLifecycle
import Synchronization

/// Kubernetes Events about Reel's resources, through `EventRecorder` (`events.k8s.io/v1`, repeats aggregated).
public struct KubeEventSink: ResourceEventSink {
    public let recorder: EventRecorder
    let logger: Logger

    public init(recorder: EventRecorder, logger: Logger) {
        self.recorder = recorder
        self.logger = logger
    }

    public func record(_ resource: StoredResource, type: String, reason: String, action: String, note: String) async {
        await record(
            ObjectReference(
                apiVersion: API.version, kind: resource.key.kind, namespace: resource.key.namespace,
                name: resource.key.name, uid: resource.uid),
            type: type, reason: reason, action: action, note: note)
    }

    func record(_ object: ObjectReference, type: String, reason: String, action: String, note: String) async {
        if let error = await recorder.record(object, type: type, reason: reason, action: action, note: note) {
            logger.warning(
                "cannot record event \(reason) for \(object.kind) \(object.namespace)/\(object.name): \(error)")
        }
    }
}
