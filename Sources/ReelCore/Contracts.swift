import FoundationEssentials
import ReelSupport

/// What the reconciler puts in every task's payload: which resource the task serves. (Relative `file://./x` URIs
/// are made absolute in the job's stored spec, so no backend detail rides along.)
public struct TaskPayload: Codable, Sendable, Equatable {
    public var uid: String
    public var namespace: String
    public var name: String

    public init(uid: String, namespace: String, name: String) {
        self.uid = uid
        self.namespace = namespace
        self.name = name
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
        let made = "render written: \(frames) frames, \(cFormat("%.3f", seconds)) s, \(mode) mode"
        return fallbackReason.map { "\(made) (\($0))" } ?? made
    }
}

/// Where a job's bytes live: the store's keys under `jobs/<uid>/` and the names of the outputs, in one place for the
/// stages that write them and the reconciler that cleans them up.
public enum OutputLayout {
    public static let timeline = "timeline.json"
    public static let otio = "timeline.otio"
    public static let edl = "timeline.edl"
    public static let render = "render.mp4"
    /// Every output a job writes into its output directory.
    public static let outputs = [timeline, otio, edl, render]

    /// Everything a job stores: its source, its chunks and (without `spec.output`) its outputs.
    public static func jobPrefix(_ uid: String) -> String { "jobs/\(uid)/" }

    /// What one generation of a job stores (its source and chunks): a spec edit's new generation writes beside
    /// the old one, never over it, and the old one's prefix is removed once its tasks have stopped.
    public static func generationPrefix(uid: String, generation: Int64) -> String { "jobs/\(uid)/g\(generation)/" }

    /// The stored source.
    public static func sourceKey(uid: String, generation: Int64, name: String) -> String {
        generationPrefix(uid: uid, generation: generation) + "source/\(name)"
    }

    /// A stored chunk; `ext` is the container's extension.
    public static func chunkKey(uid: String, generation: Int64, index: Int, ext: String) -> String {
        generationPrefix(uid: uid, generation: generation) + "chunks/\(index).\(ext)"
    }
}
