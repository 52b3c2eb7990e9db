import Foundation
import ReelAPI
import ReelCore
import ReelHTTP
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

/// Stores the source (from a `file://` root or over HTTP), checks its sha256, probes it, and refuses before any
/// other work what would fail only at the end.
struct IngestStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        try preflight(job)
        let uri = job.spec.source.uri
        let name = Self.objectName(uri)
        let key = OutputLayout.sourceKey(uid: job.uid, name: name)
        let stored: StoredObject
        if uri.hasPrefix("file://") {
            let path = try context.configuration.allowedRoots.resolve(fileURI: uri, base: nil)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw TaskFailure.permanent("SourceNotFound", "\(path) is a directory, not a video file")
            }
            stored = try await context.store.put(key, fromFile: path)
        } else if uri.hasPrefix("http://") || uri.hasPrefix("https://") {
            let scratch = try context.scratchPath("download-\(work.lease.taskID)")
            _ = try await HTTPClient.download(uri, to: scratch, maxBytes: context.configuration.maxSourceBytes)
            stored = try await context.store.put(key, movingFile: scratch)
        } else {
            let scheme = uri.split(separator: ":").first.map(String.init) ?? uri
            throw TaskFailure.permanent("SourceUnsupported", "\(scheme):// sources are not supported by this build")
        }
        if let expected = job.spec.source.sha256?.lowercased(), expected != stored.sha256 {
            throw TaskFailure.permanent(
                "ChecksumMismatch", "source sha256 is \(stored.sha256 ?? "?"), spec.source.sha256 says \(expected)")
        }
        let info: MediaInfo
        let local = try await context.store.localFile(key)
        do { info = try await MediaEngine.probe(local) } catch {
            throw TaskFailure.permanent("InvalidMedia", "\(name): \(error.message)")
        }
        guard let video = info.streams.first(where: { $0.kind == .video }) else {
            throw TaskFailure.permanent("InvalidMedia", "\(name) has no video stream")
        }
        if job.spec.render.enabled,
            let problem = renderProblem(videoCodec: video.codec, options: RenderOptions(job.spec.render))
        {
            throw TaskFailure.permanent("RenderUnsupported", "\(name): \(problem)")
        }
        try await context.pauseForFault(.ingest)
        try await context.database.jobs.recordSource(
            job.id,
            SourceFacts(
                key: key, name: name, bytes: stored.bytes, sha256: stored.sha256, duration: info.duration,
                streams: try JSONDocument(encoding: info.streams)),
            lease: work.lease)
        await context.log(
            work, "source stored",
            fields: ["bytes": "\(stored.bytes)", "sha256": stored.sha256 ?? "", "duration": "\(info.duration ?? 0)"])
    }

    /// Refuses before any work what would otherwise fail only at the end: an output the job may not or cannot
    /// write, a render codec this build lacks.
    func preflight(_ job: JobRecord) throws {
        if let uri = job.spec.output?.uri {
            _ = try context.outputLocation(job)
            let path = try context.configuration.allowedRoots.lexicalPath(fileURI: uri, base: nil)
            guard FileManager.default.isWritableFile(atPath: path) else {
                throw TaskFailure.permanent("OutputNotWritable", "output \(path) is not writable")
            }
        }
        if job.spec.render.enabled, let problem = renderProblem(options: RenderOptions(job.spec.render)) {
            throw TaskFailure.permanent("RenderUnsupported", problem)
        }
    }

    /// A safe object name from the last path segment of a URI.
    static func objectName(_ uri: String) -> String {
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        let last = path.split(separator: "/").last.map(String.init) ?? "source"
        let cleaned = String(last.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" }).prefix(120)
        return cleaned.isEmpty || cleaned.allSatisfy({ $0 == "." }) ? "source" : String(cleaned)
    }
}
