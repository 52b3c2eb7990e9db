import FoundationEssentials
import ReelAPI
import ReelCore
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Renders the timeline's clips from the source into one video, in the job's render mode.
struct RenderStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        let sourceKey = try work.sourceKey()
        let (output, prefix) = try context.outputLocation(job)
        let timelineData: Data
        do {
            timelineData = try await output.withLocalFile(prefix + OutputLayout.timeline) { path in
                try Data(contentsOf: URL(fileURLWithPath: path))
            }
        } catch let error as StorageError where error.code == .notFound {
            throw TaskFailure.retryable("TimelineMissing", "the timeline is not assembled yet")
        }
        let timeline = try JSONDecoder().decode(Timeline.self, from: timelineData)
        guard !timeline.clips.isEmpty else {
            throw TaskFailure.permanent("EmptyTimeline", "the timeline has no clips to render")
        }
        let scratch = try context.scratchPath("render-\(work.lease.taskID)-\(UUID().uuidString.prefix(8)).mp4")
        defer { unlink(scratch) }
        // The render is at most about the source's size.
        let needed = try await context.scratchNeed(reading: sourceKey, outputs: 1)
        let result = try await context.withScratch(work, bytes: needed) {
            try await context.store.withLocalFile(sourceKey) { source in
                try await MediaEngine.render(
                    timeline.clips.map { CutRange(source: source, start: $0.start, end: $0.end) }, output: scratch,
                    options: RenderOptions(job.spec.render))
            }
        }
        work.progress(0.9)
        let stored = try await output.put(prefix + OutputLayout.render, movingFile: scratch)
        try await context.pauseForFault(.render)
        let facts = RenderFacts(
            mode: result.mode.rawValue, frames: result.frames, seconds: result.duration,
            fallbackReason: result.fallbackReason)
        try await context.database.jobs.recordRender(job.id, uri: stored.uri, facts: facts, lease: work.lease)
        var fields = [
            "bytes": "\(stored.bytes)", "duration": cFormat("%.3f", result.duration),
            "mode": result.mode.rawValue, "frames": "\(result.frames)",
        ]
        if let reason = result.fallbackReason { fields["fallback"] = reason }
        await context.log(
            work, level: result.fallbackReason == nil ? "info" : "warning", "render written", fields: fields)
    }
}
