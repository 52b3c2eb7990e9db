import FoundationEssentials
import ReelAnalysis

/// One clip of a timeline: a stretch of the source, in source seconds.
public struct TimelineClip: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var importance: Double
    public var description: String
    public var labels: [String]

    public init(start: Double, end: Double, importance: Double, description: String, labels: [String]) {
        self.start = start
        self.end = end
        self.importance = importance
        self.description = description
        self.labels = labels
    }

    public var duration: Double { end - start }
}

/// The source a timeline cuts from.
public struct TimelineSource: Codable, Sendable, Equatable {
    /// Where the source is stored.
    public var uri: String
    public var name: String
    public var duration: Double
    /// Video frame rate (frames per second), for OTIO and EDL times.
    public var frameRate: Double

    public init(uri: String, name: String, duration: Double, frameRate: Double) {
        self.uri = uri
        self.name = name
        self.duration = duration
        self.frameRate = frameRate
    }
}

/// A job's edit: the clips to play, in order, and where they come from. Written as `timeline.json`.
public struct Timeline: Codable, Sendable, Equatable {
    public var name: String
    public var strategy: String
    public var source: TimelineSource
    public var clips: [TimelineClip]

    public init(name: String, strategy: String, source: TimelineSource, clips: [TimelineClip]) {
        self.name = name
        self.strategy = strategy
        self.source = source
        self.clips = clips
    }

    /// Total length of the clips.
    public var duration: Double { clips.reduce(0) { $0 + $1.duration } }
}

/// Turns per-chunk analyses into one list of scenes and a timeline. Pure.
public enum TimelineBuilder {
    /// Every scene of the source in order (see `SceneJoining.scenes`).
    public static func scenes(_ chunks: [(start: Double, analysis: ChunkAnalysis)]) -> [SceneAnalysis] {
        SceneJoining.scenes(chunks)
    }

    /// The clips a strategy keeps: `scenes` every scene; `highlights` the most important scenes whose total fits
    /// in `maxSeconds` (the single best one trimmed to fit when even it is longer), in source order. With a
    /// `frameRate`, every boundary is first moved to the nearest frame, so the clips are whole frames — what the
    /// render, OTIO and the EDL count — and `highlights` counts frames against `maxSeconds`.
    public static func clips(
        _ scenes: [SceneAnalysis], strategy: String, maxSeconds: Double, frameRate: Double? = nil
    ) -> [TimelineClip] {
        let rate = frameRate.flatMap { $0 > 0 ? $0 : nil }
        func snap(_ t: Double) -> Double { rate.map { (t * $0).rounded() / $0 } ?? t }
        func length(_ clip: TimelineClip) -> Double {
            rate.map { ((clip.end * $0).rounded() - (clip.start * $0).rounded()) / $0 } ?? clip.duration
        }
        let all = scenes.map {
            TimelineClip(
                start: snap($0.start), end: snap($0.end), importance: $0.importance, description: $0.description,
                labels: $0.labels)
        }.filter { $0.end > $0.start }
        guard strategy == "highlights" else { return all }
        let ranked = all.enumerated().sorted {
            $0.element.importance != $1.element.importance
                ? $0.element.importance > $1.element.importance : $0.offset < $1.offset
        }
        // The budget in whole frames when there is a rate: never a frame over maxSeconds.
        let budget = rate.map { (maxSeconds * $0 + 1e-9).rounded(.down) / $0 } ?? maxSeconds
        var chosen: [(Int, TimelineClip)] = []
        var total = 0.0
        for (offset, clip) in ranked where total + length(clip) <= budget + 1e-9 {
            chosen.append((offset, clip))
            total += length(clip)
        }
        if chosen.isEmpty, var best = ranked.first?.element, budget > 0 {
            best.end = snap(best.start + budget)
            return [best]
        }
        return chosen.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
