import FoundationEssentials
import ReelAPI
import ReelAnalysis
import ReelCore
import ReelStorage
import ReelStore
import ReelSupport

/// Builds the timeline from the chunks' analyses and writes it as JSON, OpenTimelineIO and EDL.
struct AssembleStage: StageHandler {
    let context: StageContext

    init(_ context: StageContext) { self.context = context }

    func run(_ work: StageWork) async throws {
        let job = work.job
        let sourceKey = try work.sourceKey()
        var chunks: [(start: Double, analysis: ChunkAnalysis)] = []
        for row in try await context.database.chunks.analyses(jobID: job.id) {
            guard let analysis = row.analysis else {
                throw TaskFailure.retryable("ChunksNotAnalyzed", "chunk \(row.index) has no analysis")
            }
            // Stored analyses are absolute; the builder shifts relative ones, so undo the shift here.
            chunks.append((row.startSeconds, try analysis.decode(ChunkAnalysis.self).shifted(by: -row.startSeconds)))
        }
        let scenes = TimelineBuilder.scenes(chunks)
        let clips = TimelineBuilder.clips(
            scenes, strategy: job.spec.timeline.strategy.rawValue, maxSeconds: Double(job.spec.timeline.maxSeconds),
            frameRate: job.frameRate)
        let timeline = Timeline(
            name: job.spec.title ?? job.name, strategy: job.spec.timeline.strategy.rawValue,
            source: TimelineSource(
                uri: context.store.uri(for: sourceKey), name: job.sourceName ?? "source",
                duration: job.sourceDuration ?? 0, frameRate: job.frameRate),
            clips: clips)
        let (output, prefix) = try context.outputLocation(job)
        let json = try await output.put(prefix + OutputLayout.timeline, data: try TimelineWriters.json(timeline))
        let otio = try await output.put(prefix + OutputLayout.otio, data: try TimelineWriters.otio(timeline))
        let edl = try await output.put(prefix + OutputLayout.edl, data: Data(TimelineWriters.edl(timeline).utf8))
        try await context.pauseForFault(.assemble)
        try await context.database.jobs.recordTimeline(
            job.id, json: json.uri, otio: otio.uri, edl: edl.uri, lease: work.lease)
        await context.log(
            work, "timeline assembled",
            fields: [
                "scenes": "\(scenes.count)", "clips": "\(clips.count)",
                "seconds": cFormat("%.2f", timeline.duration),
            ])
    }
}
