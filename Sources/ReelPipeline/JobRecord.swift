import FoundationEssentials
import ReelAPI
import ReelCore
import ReelMedia
import ReelStore
import ReelSupport

/// A job as the stages read it: its `processing_jobs` row with the probe's streams decoded.
public struct JobRecord: Sendable {
    public var row: JobRow
    public var sourceStreams: [StreamInfo]

    public var id: Int64 { row.id }
    public var uid: String { row.uid }
    public var namespace: String { row.namespace }
    public var name: String { row.name }
    public var spec: VideoJobSpec { row.spec }
    public var sourceKey: String? { row.sourceKey }
    public var sourceName: String? { row.sourceName }
    public var sourceDuration: Double? { row.sourceDuration }
    public var outputs: JobOutputs { row.outputs }

    /// Reads job `id`; a job that is gone fails the task for good.
    public static func load(_ id: Int64, from database: Database) async throws -> JobRecord {
        guard let row = try await database.jobs.job(id) else {
            throw TaskFailure.permanent("JobNotFound", "job \(id) no longer exists")
        }
        return JobRecord(row: row, sourceStreams: try row.sourceStreams?.decode([StreamInfo].self) ?? [])
    }

    /// The video frame rate of the source (25 when unknown).
    public var frameRate: Double {
        sourceStreams.first { $0.kind == .video }?.frameRate.map(\.seconds).flatMap { $0 > 0 ? $0 : nil } ?? 25
    }
}

extension RenderOptions {
    /// The media engine's options for a job's `spec.render`.
    public init(_ spec: RenderSpec) {
        self.init(
            mode: RenderMode(rawValue: spec.mode.rawValue) ?? .exact,
            codec: RenderCodec(rawValue: spec.codec.rawValue) ?? .h264, crf: spec.crf, preset: spec.preset)
    }
}
