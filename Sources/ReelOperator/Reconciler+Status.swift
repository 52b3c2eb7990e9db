import FoundationEssentials
import Logging
import ReelAPI
import ReelCore
import ReelStorage
import ReelStore
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Status writing (with its YAML mirror and the Events of phase changes) and cleanup of a deleted job.
extension Reconciler {
    /// Writes the status when it changed; mirrors it and reports a phase change.
    func writeStatus(_ status: VideoJobStatus, stored: StoredResource, job: VideoJob) async throws {
        guard try await resources.updateStatus(stored, status: .videoJob(status)) else { return }
        stats.withLock { $0.statusWrites += 1 }
        metrics.statusWrites.increment()
        await publish(job.status == nil ? "job.added" : "job.changed", stored: stored, status: status)
        if configuration.statusDirectory != nil {
            var mirrored = job
            mirrored.status = status
            mirrored.metadata = (try await resources.get(stored.key)?.metadata) ?? job.metadata
            mirror(mirrored, key: stored.key)
        }
        if let phase = status.phase, phase != job.status?.phase {
            await reportPhase(phase, status: status, stored: stored)
        }
    }

    /// Announces a job's change on the event feed (`/api/events`); the feed failing never fails the reconcile.
    func publish(_ type: String, stored: StoredResource, status: VideoJobStatus?) async {
        do {
            try await database.events.publish(
                namespace: stored.key.namespace, type: type, jobUID: stored.uid,
                data: try JSONDocument(
                    encoding: JobEvent(
                        uid: stored.uid, namespace: stored.key.namespace, name: stored.key.name,
                        generation: stored.generation, status: status)))
        } catch {
            logger.warning("cannot publish \(type) of \(stored.key): \(error)")
        }
    }

    /// An Event for a phase change: the stage reached, success, or the failure's reason.
    private func reportPhase(_ phase: VideoJobPhase, status: VideoJobStatus, stored: StoredResource) async {
        guard let events else { return }
        let ready = status.conditions?.first { $0.type == "Succeeded" }
        switch phase {
        case .Failed:
            await events.record(
                stored, type: "Warning", reason: ready?.reason ?? "Failed", action: "Process",
                note: ready?.message ?? "the job failed")
        case .Succeeded:
            await events.record(
                stored, type: "Normal", reason: "Succeeded", action: "Process",
                note: ready?.message ?? "outputs written")
        default:
            await events.record(
                stored, type: "Normal", reason: phase.rawValue, action: "Process", note: "phase \(phase.rawValue)")
        }
    }

    static func mirrorPath(_ directory: String, _ key: ResourceKey) -> String {
        "\(directory)/\(key.namespace)/\(key.kind)/\(key.name).yaml"
    }

    /// `DIR/NAMESPACE/KIND/NAME.yaml`, replaced atomically.
    private func mirror(_ job: VideoJob, key: ResourceKey) {
        guard let directory = configuration.statusDirectory else { return }
        let path = Self.mirrorPath(directory, key)
        do {
            try FileManager.default.createDirectory(
                atPath: Paths.deletingLastComponent(path), withIntermediateDirectories: true)
            let temporary = path + ".partial"
            try ResourceRendering.yaml(job).write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, path) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            logger.warning("cannot mirror status to \(path): \(error)")
        }
    }

    /// A deleted job: its stored objects, the outputs it wrote outside the store, every generation's rows (chunks,
    /// tasks and logs go with them) and its status mirror.
    func cleanUp(_ stored: StoredResource, job: VideoJob, jobIDs ids: [Int64]) async throws {
        let key = stored.key
        let removed = try await removeEverything(stored).objects
        if let directory = configuration.statusDirectory { removeIfPresent(Self.mirrorPath(directory, key)) }
        logger.info("\(key) deleted: \(removed) stored objects and \(ids.count) job records removed")
        await events?.record(
            stored, type: "Normal", reason: "CleanedUp", action: "Cleanup",
            note: "removed \(removed) stored objects and \(ids.count) job records")
    }

    /// Removes what a job stored and wrote, and its rows and output claim; returns how many stored objects and
    /// job records (generations) went.
    func removeEverything(_ stored: StoredResource) async throws -> (objects: Int, records: Int) {
        let removed = try await store.delete(prefix: OutputLayout.jobPrefix(stored.uid))
        let generations = try await database.jobs.generations(resourceUID: stored.uid)
        // Outside the store, exactly the files its generations recorded writing — never whatever else the folder
        // holds (a job refused for another's output wrote nothing there).
        let output = try? stored.videoJob().spec.output?.uri
        for written in generations.map(\.outputs) {
            for uri in [written.timeline, written.otio, written.edl, written.render].compactMap({ $0 }) {
                if let path = writtenFile(uri) {
                    removeIfPresent(path)
                } else if uri.hasPrefix("s3://") {
                    await removeWrittenObject(uri, output: output)
                }
            }
        }
        try await database.jobs.deleteAll(resourceUID: stored.uid)
        try await database.outputClaims.release(uid: stored.uid)
        jobKeys.withLock { map in for generation in generations { map[generation.id] = nil } }
        return (removed, generations.count)
    }

    /// `ttlSecondsAfterFinished` where the resource cannot be deleted (a file's job): its outputs and records go,
    /// and its status says `Expired` (the `Expired` condition with when and why) until the spec changes.
    func expire(_ stored: StoredResource, job: VideoJob, status: VideoJobStatus, ttl: Int) async throws {
        let removed = try await removeEverything(stored)
        var expired = status
        expired.phase = .Expired
        expired.outputs = nil
        expired.chunks = nil
        let note = "outputs and records removed \(ttl) s after it finished (ttlSecondsAfterFinished)"
        expired.conditions =
            (status.conditions ?? []).filter { $0.type != "Expired" } + [
                Condition(
                    type: "Expired", status: .true, reason: "TTLExpired", message: note,
                    lastTransitionTime: Timestamp(Date()),
                    observedGeneration: Int(stored.generation))
            ]
        try await writeStatus(expired, stored: stored, job: job)
        logger.info(
            "\(stored.key) expired: \(removed.objects) stored objects and \(removed.records) job records removed")
        await events?.record(stored, type: "Normal", reason: "Expired", action: "Cleanup", note: note)
    }

    /// The local file an output URI names, when it lies inside the allowed roots.
    private func writtenFile(_ uri: String) -> String? {
        guard uri.hasPrefix("file://") else { return nil }
        let roots = configuration.allowedRoots
        guard let path = try? roots.lexicalPath(fileURI: uri, base: nil), roots.contains(path) else { return nil }
        return path
    }

    /// Deletes one object a job wrote to an `s3://` output (that key only: the prefix may hold the user's own),
    /// reached like the store, or at the endpoint the job's output names for that bucket.
    private func removeWrittenObject(_ uri: String, output: String?) async {
        let rest = uri.dropFirst("s3://".count)
        guard let slash = rest.firstIndex(of: "/") else { return }
        let bucket = String(rest[..<slash])
        let key = String(rest[rest.index(after: slash)...])
        var base = "s3://\(bucket)/"
        if let output, output.hasPrefix(base), let query = output.split(separator: "?", maxSplits: 1).dropFirst().first
        {
            base += "?" + query
        }
        do {
            let bucketStore = try ObjectStores.s3(
                base, like: store, scratch: FileManager.default.temporaryDirectory.path)
            try await bucketStore.deleteObject(key)
        } catch {
            logger.warning("cannot remove \(uri), which a deleted job wrote: \(error)")
        }
    }

    private func removeIfPresent(_ path: String) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            logger.warning("cannot remove \(path): \(error)")
        }
    }
}

/// A job event's data: which job, and its status as written.
struct JobEvent: Encodable {
    var uid: String
    var namespace: String
    var name: String
    var generation: Int64
    var status: VideoJobStatus?
}
