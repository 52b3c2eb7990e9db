import FoundationEssentials
import ReelAPI
import ReelCore
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

extension IngestStage {
    /// An `upload://<id>` source: a complete upload of the job's own namespace, read where it is in the store
    /// (no copy; the store's object is the job's source from here on).
    func ingestUpload(_ work: StageWork, id: String) async throws {
        let job = work.job
        guard let upload = try await context.database.uploads.upload(id), upload.namespace == job.namespace else {
            throw TaskFailure.permanent(
                "SourceNotFound", "upload://\(id) is not an upload of namespace \(job.namespace)")
        }
        switch upload.state {
        case .invalid:
            throw TaskFailure.permanent("InvalidMedia", upload.message ?? "upload://\(id) is not a video")
        case .receiving:
            throw TaskFailure.permanent(
                "SourceNotFound",
                "upload://\(id) is not complete (\(upload.received) of \(upload.length.map(String.init) ?? "?") bytes)")
        case .complete:
            break
        }
        let name = Self.objectName(upload.filename)
        let (info, bytes, sha256) = try await context.store.withLocalFile(upload.objectKey) { local in
            let info = try await inspect(local, name: name)
            let (bytes, sha256) = try await BlockingExecutor.files.run { () throws -> (Int, String) in
                try FileHashing.hash(local, key: upload.objectKey)
            }
            return (info, bytes, sha256)
        }
        if let expected = job.spec.source.sha256?.lowercased(), expected != sha256 {
            throw TaskFailure.permanent(
                "ChecksumMismatch", "upload://\(id) has sha256 \(sha256), spec.source.sha256 says \(expected)")
        }
        try check(info, name: name, job: job)
        try await context.pauseForFault(.ingest)
        try await context.database.jobs.recordSource(
            job.id,
            SourceFacts(
                key: upload.objectKey, name: name, bytes: bytes, sha256: sha256, duration: info.duration,
                streams: try JSONDocument(encoding: info.streams)),
            lease: work.lease)
        await context.log(
            work, "source read from upload://\(id)",
            fields: ["bytes": "\(bytes)", "sha256": sha256, "duration": "\(info.duration ?? 0)"])
    }
}
