import FoundationEssentials
import ReelAPI
import ReelCore
import ReelStore
import ReelSupport

/// One writer per output location: a job's `spec.output.uri` is claimed before its first task, and a second job
/// naming the same location is refused (`OutputConflict`) instead of writing into the first one's folder.
extension Reconciler {
    /// The location a job writes to, normalized so that two spellings of one folder are one claim: a `file://`
    /// directory as an absolute, standardized path (relative ones against the declaring file), an `s3://` prefix
    /// with its bucket; `nil` when the job writes to the store under its own `jobs/<uid>/`.
    static func outputClaim(_ stored: StoredResource, _ job: VideoJob) -> String? {
        guard var uri = job.spec.output?.uri else { return nil }
        if uri.hasPrefix("file://") {
            var path = String(uri.dropFirst("file://".count))
            path = PercentEncoding.decode(path) ?? path
            if !path.hasPrefix("/") {
                path = "\(stored.sourceBase ?? Paths.currentDirectory())/\(path)"
            }
            uri = "file://" + Paths.standardized(path)
        } else if let query = uri.firstIndex(of: "?") {
            uri = String(uri[..<query])  // s3://bucket/prefix/?endpoint=…: the endpoint does not make another place
        }
        return uri.hasSuffix("/") ? uri : uri + "/"
    }

    /// The other job that holds this job's output, as `namespace/name`, if any.
    func outputOwner(_ stored: StoredResource, _ job: VideoJob) async throws -> String? {
        guard stored.deletionTimestamp == nil, let claim = Self.outputClaim(stored, job),
            let owner = try await database.outputClaims.owner(of: claim), owner.uid != stored.uid
        else { return nil }
        return "\(owner.namespace)/\(owner.name)"
    }

    /// Claims the job's output before its generation is processed; `false` when another job got there first.
    func claimOutput(_ stored: StoredResource, _ job: VideoJob) async throws -> Bool {
        let me = OutputClaims.Owner(uid: stored.uid, namespace: stored.key.namespace, name: stored.key.name)
        guard let claim = Self.outputClaim(stored, job) else {
            try await database.outputClaims.release(uid: stored.uid)
            return true
        }
        return try await database.outputClaims.claim(claim, for: me).uid == stored.uid
    }
}
