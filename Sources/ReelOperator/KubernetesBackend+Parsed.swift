import ReelAPI
import ReelCore

extension KubernetesBackend {
    /// An object as last read (the backend's cache of it: the informer keeps only keys and versions). What was
    /// read is boxed (`Content` is indirect), so that an entry of the cache's dictionary is 32 bytes rather than
    /// the 392 of the object inline: 10,000 jobs parsed at start, and the copy each resize of the dictionary
    /// makes, cost that much less.
    struct Parsed {
        /// An object read again at the same resourceVersion is not decoded again.
        var resourceVersion: String
        let content: Content
        /// Read or parsed since the last `compactSettled`.
        var touched = true

        indirect enum Content {
            /// Valid; `settled`: a VideoJob settled in its current generation (`ResourceSource.unsettledKeys`).
            case resource(StoredResource, settled: Bool)
            /// Refused by Reel's rules; `deleting`: the object, when it is being deleted (`get` reads it with the
            /// spec it was last processed with, so that its finalizer's cleanup still runs).
            case invalid([FieldProblem], deleting: KubeObject?)
        }

        init(resourceVersion: String, resource: StoredResource, settled: Bool = false) {
            self.resourceVersion = resourceVersion
            content = .resource(resource, settled: settled)
        }

        init(resourceVersion: String, problems: [FieldProblem], deleting: KubeObject?) {
            self.resourceVersion = resourceVersion
            content = .invalid(problems, deleting: deleting)
        }

        var resource: StoredResource? {
            guard case .resource(let resource, _) = content else { return nil }
            return resource
        }

        var settled: Bool {
            guard case .resource(_, let settled) = content else { return false }
            return settled
        }

        var problems: [FieldProblem] {
            guard case .invalid(let problems, _) = content else { return [] }
            return problems
        }

        var deletingInvalid: KubeObject? {
            guard case .invalid(_, let deleting) = content else { return nil }
            return deleting
        }
    }
}
