import Foundation
import ReelAPI
import ReelMedia
import ReelPostgres
import ReelStore

/// What the reconciler puts in every task's payload: which resource the task serves and where its
/// declaring file lives (relative `file://./x` sources resolve against it).
public struct TaskPayload: Codable, Sendable, Equatable {
    public var uid: String
    public var namespace: String
    public var name: String
    /// Directory of the file that declared the resource (YAML-directory backend only).
    public var sourceBase: String?

    public init(uid: String, namespace: String, name: String, sourceBase: String? = nil) {
        self.uid = uid
        self.namespace = namespace
        self.name = name
        self.sourceBase = sourceBase
    }
}

/// A `processing_jobs` row as the stages read it.
public struct JobRecord: Sendable {
    public var id: Int64
    public var uid: String
    public var namespace: String
    public var name: String
    public var generation: Int64
    public var spec: VideoJobSpec
    public var sourceKey: String?
    public var sourceName: String?
    public var sourceDuration: Double?
    public var sourceStreams: [StreamInfo]
    public var outputs: JobOutputs

    static let columns =
        "id, resource_uid, namespace, name, generation, spec, source_key, source_name, source_duration, "
        + "source_streams, outputs"

    /// Reads job `id`.
    public static func load(_ id: Int64, from pool: PostgresPool) async throws -> JobRecord {
        let rows = try await pool.query("SELECT \(columns) FROM processing_jobs WHERE id = $1", [id])
        guard let row = rows.first else { throw TaskFailure.permanent("JobNotFound", "job \(id) no longer exists") }
        let spec = try row.decode(PostgresJSON.self, at: 5).decode(VideoJobSpec.self)
        let streams = try row.decodeIfPresent(PostgresJSON.self, at: 9).map { try $0.decode([StreamInfo].self) } ?? []
        return JobRecord(
            id: try row.decode(at: 0), uid: try row.decode(at: 1), namespace: try row.decode(at: 2),
            name: try row.decode(at: 3), generation: try row.decode(at: 4), spec: spec,
            sourceKey: try row.decodeIfPresent(at: 6), sourceName: try row.decodeIfPresent(at: 7),
            sourceDuration: try row.decodeIfPresent(at: 8), sourceStreams: streams,
            outputs: try row.decode(PostgresJSON.self, at: 10).decode(JobOutputs.self))
    }

    /// The video frame rate of the source (25 when unknown).
    public var frameRate: Double {
        sourceStreams.first { $0.kind == .video }?.frameRate.map(\.seconds).flatMap { $0 > 0 ? $0 : nil } ?? 25
    }
}

/// Structured log lines in `job_logs`, correlated by task.
public struct JobLog: Sendable {
    let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    /// Appends one line; logging never fails the caller's work.
    public func write(
        job: Int64?, task: Int64?, level: String, _ message: String, fields: [String: String] = [:]
    ) async {
        let json = (try? PostgresJSON(encoding: fields)) ?? PostgresJSON(text: "{}")
        _ = try? await pool.query(
            """
            INSERT INTO job_logs (job_id, task_id, level, message, fields, correlation_id)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6)
            """, [job, task, level, message, json, task.map { "task-\($0)" }])
    }
}

/// What the render stage made (`processing_jobs.render_facts`): the reconciler reports it in the `Rendered`
/// condition.
public struct RenderFacts: Codable, Sendable, Equatable {
    /// The mode used (`exact` when `smart` fell back).
    public var mode: String
    public var frames: Int
    public var seconds: Double
    /// Why the mode asked for was not used.
    public var fallbackReason: String?

    public init(mode: String, frames: Int, seconds: Double, fallbackReason: String? = nil) {
        self.mode = mode
        self.frames = frames
        self.seconds = seconds
        self.fallbackReason = fallbackReason
    }

    /// The `Rendered` condition's message.
    public var message: String {
        let made = "render written: \(frames) frames, \(String(format: "%.3f", seconds)) s, \(mode) mode"
        return fallbackReason.map { "\(made) (\($0))" } ?? made
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
