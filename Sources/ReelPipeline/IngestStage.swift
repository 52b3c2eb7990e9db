import FoundationEssentials
import ReelAPI
import ReelCore
import ReelHTTP
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores the source (from a `file://` root or over HTTP), checks its sha256, probes it, and refuses before any
/// other work what would fail only at the end.
struct IngestStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        try preflight(job)
        let uri = job.spec.source.uri
        if uri.hasPrefix("upload://") {
            return try await ingestUpload(work, id: String(uri.dropFirst("upload://".count)))
        }
        let name = Self.objectName(uri)
        let key = OutputLayout.sourceKey(uid: job.uid, generation: job.row.generation, name: name)
        // A local copy to probe before anything is stored: the file itself, or a download in scratch space.
        let local: String
        var download: String?
        var held = 0
        defer {
            if let download { unlink(download) }
            context.scratch?.release(held)
        }
        if uri.hasPrefix("file://") {
            local = try context.configuration.allowedRoots.resolve(fileURI: uri, base: nil)
            var isDirectory = false
            if FileManager.default.fileExists(atPath: local, isDirectory: &isDirectory), isDirectory {
                throw TaskFailure.permanent("SourceNotFound", "\(local) is a directory, not a video file")
            }
        } else if uri.hasPrefix("http://") || uri.hasPrefix("https://") {
            let scratch = try context.scratchPath("download-\(work.lease.taskID)")
            download = scratch
            let configuration = context.configuration
            _ = try await HTTPClient.download(
                uri, to: scratch, maxBytes: configuration.maxSourceBytes,
                connectTimeout: configuration.sourceConnectTimeout, lowSpeedTimeout: configuration.sourceStallTimeout,
                addresses: configuration.sourceAddresses)
            local = scratch
        } else if uri.hasPrefix("s3://") {
            let scratch = try context.scratchPath("download-\(work.lease.taskID)")
            download = scratch
            try await fetchS3(uri, job: job, to: scratch) { bytes in
                held = await context.reserveScratch(work, bytes: bytes)
            }
            local = scratch
        } else {
            let scheme = uri.split(separator: ":").first.map(String.init) ?? uri
            throw TaskFailure.permanent("SourceUnsupported", "\(scheme):// sources are not supported by this build")
        }
        let info = try await inspect(local, name: name)
        let stored =
            download == nil
            ? try await context.store.put(key, fromFile: local) : try await context.store.put(key, movingFile: local)
        if let expected = job.spec.source.sha256?.lowercased(), expected != stored.sha256 {
            throw TaskFailure.permanent(
                "ChecksumMismatch", "source sha256 is \(stored.sha256 ?? "?"), spec.source.sha256 says \(expected)")
        }
        try check(info, name: name, job: job)
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

    /// What the file holds, after a demux pass over every packet: a damaged or truncated file fails here, in the
    /// first seconds, not at analysis. Messages name the source (`name`), never a scratch or store path.
    func inspect(_ local: String, name: String) async throws(TaskFailure) -> MediaInfo {
        let info: MediaInfo
        do throws(MediaError) { info = try await MediaEngine.probe(local) } catch {
            throw TaskFailure.permanent("InvalidMedia", "\(name): \(error.message)")
        }
        try limits(info, name: name)
        do throws(MediaError) { _ = try await MediaEngine.verify(local) } catch {
            throw TaskFailure.permanent("InvalidMedia", "\(name): \(error.message)")
        }
        return info
    }

    /// A picture or a length past what this cluster takes (`--max-pixels`, `--max-duration-seconds`) is refused
    /// before anything reads the whole file: an 8192 × 8192 source made a worker peak at 415 MB.
    func limits(_ info: MediaInfo, name: String) throws(TaskFailure) {
        let configuration = context.configuration
        for video in info.streams where video.kind == .video {
            let pixels = (video.width ?? 0) * (video.height ?? 0)
            if pixels > configuration.maxPixels {
                throw TaskFailure.permanent(
                    "SourceTooLarge",
                    "\(name) is \(video.width ?? 0)×\(video.height ?? 0) (\(pixels) pixels), over the limit of "
                        + "\(configuration.maxPixels) (--max-pixels)")
            }
        }
        let longest = configuration.maxDuration.seconds
        if let duration = info.duration, duration > longest {
            throw TaskFailure.permanent(
                "SourceTooLarge",
                "\(name) lasts \(Int(duration)) s, over the limit of \(Int(longest)) s (--max-duration-seconds)")
        }
    }

    /// A video this job can use: a video stream, in a codec the render can cut.
    func check(_ info: MediaInfo, name: String, job: JobRecord) throws {
        guard let video = info.streams.first(where: { $0.kind == .video }) else {
            throw TaskFailure.permanent("InvalidMedia", "\(name) has no video stream")
        }
        if job.spec.render.enabled,
            let problem = renderProblem(videoCodec: video.codec, options: RenderOptions(job.spec.render))
        {
            throw TaskFailure.permanent("RenderUnsupported", "\(name): \(problem)")
        }
    }

    /// Streams an `s3://bucket/key` source into `path`, with the store's credentials (or the environment's), once
    /// `reserve` has held its size of the scratch budget.
    func fetchS3(_ uri: String, job: JobRecord, to path: String, reserve: (Int) async -> Void) async throws {
        let location: S3Location
        do { location = try S3Location.parse(uri) } catch {
            throw TaskFailure.permanent("InvalidSource", error.message)
        }
        let key = String(location.prefix.dropLast())
        guard !key.isEmpty else { throw TaskFailure.permanent("InvalidSource", "\(uri) names a bucket, not an object") }
        try context.checkEndpoint(uri, of: "source")
        let query = uri.firstIndex(of: "?").map { String(uri[$0...]) } ?? ""
        let credentials = try await sourceCredentials(job)
        do {
            let bucket = try ObjectStores.s3(
                "s3://\(location.bucket)\(query)", like: context.baseStore,
                scratch: context.configuration.scratchDirectory,
                credentials: credentials)
            let size = try await bucket.head(key)
            guard let size else { throw TaskFailure.permanent("SourceNotFound", "\(uri) does not exist") }
            guard size.bytes <= context.configuration.maxSourceBytes else {
                throw TaskFailure.permanent(
                    "SourceTooLarge",
                    "\(uri) is \(size.bytes) bytes, over the limit of \(context.configuration.maxSourceBytes)")
            }
            await reserve(size.bytes)
            try await bucket.get(key, toFile: path)
        } catch let error as StorageError where error.code == .unauthorized {
            throw TaskFailure.permanent("SourceForbidden", error.description)
        }
    }

    /// The credentials `spec.source.credentialsSecretRef` names (`nil` without one: the worker's own).
    func sourceCredentials(_ job: JobRecord) async throws -> AWSCredentialProvider? {
        guard let ref = job.spec.source.credentialsSecretRef else { return nil }
        guard let read = context.configuration.secretReader else {
            throw TaskFailure.permanent(
                "SourceCredentialsUnavailable",
                "spec.source.credentialsSecretRef names the Secret \(ref.name), which only workers in Kubernetes read "
                    + "(reel worker --kube-secrets); elsewhere the workers' own AWS credentials are used")
        }
        func value(_ key: String) async throws -> String {
            try await read(job.namespace, SecretKeyRef(name: ref.name, key: key))
        }
        let token: String?
        // Optional: long-lived keys have no session token.
        do { token = try await value("AWS_SESSION_TOKEN") } catch { token = nil }
        return AWSCredentialProvider(
            AWSCredentials(
                accessKeyID: try await value("AWS_ACCESS_KEY_ID"),
                secretAccessKey: try await value("AWS_SECRET_ACCESS_KEY"), sessionToken: token))
    }

    /// Refuses before any work what would otherwise fail only at the end: an output the job may not or cannot
    /// write, a render codec this build lacks.
    func preflight(_ job: JobRecord) throws {
        if let uri = job.spec.output?.uri {
            _ = try context.outputLocation(job)
            guard uri.hasPrefix("file://") else { return }
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
