import FoundationEssentials
import ReelAPI
import ReelCore
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

/// Splits the stored source into keyframe-aligned chunks (stream copy) and stores them.
struct SplitStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        let directory = try context.scratchPath("split-\(work.lease.taskID)-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sourceKey = try work.sourceKey()
        // The chunks take about the source's size.
        let needed = try await context.scratchNeed(reading: sourceKey, outputs: 1)
        let chunks = try await context.withScratch(work, bytes: needed) {
            try await context.store.withLocalFile(sourceKey) { source in
                try await MediaEngine.split(
                    source, targetSeconds: Double(job.spec.split.targetSeconds), maxBytes: job.spec.split.maxBytes,
                    outputDirectory: directory)
            }
        }
        guard !chunks.isEmpty else { throw TaskFailure.permanent("InvalidMedia", "the source has no video packets") }
        var rows: [NewChunk] = []
        for chunk in chunks {
            let key = OutputLayout.chunkKey(
                uid: job.uid, generation: job.row.generation, index: chunk.index,
                ext: Paths.fileExtension(chunk.path))
            let stored = try await context.store.put(key, movingFile: chunk.path)
            rows.append(
                NewChunk(
                    index: chunk.index, startSeconds: chunk.start, startNumerator: chunk.startExact.numerator,
                    startDenominator: chunk.startExact.denominator, durationSeconds: chunk.duration,
                    bytes: stored.bytes, sha256: stored.sha256 ?? "", storageKey: stored.key))
        }
        try await context.pauseForFault(.split)
        try await context.database.chunks.replace(jobID: job.id, with: rows, lease: work.lease)
        await context.log(work, "source split", fields: ["chunks": "\(chunks.count)"])
    }
}
