/// One list of a source's scenes from its chunks' analyses: what the timeline is assembled from and what the
/// dashboard's scene strip shows. Pure.
public enum SceneJoining {
    /// Scenes on either side of a chunk boundary are one scene when no cut was found there and their picture
    /// signatures (mean luma, motion) differ by at most this much.
    public static let joinTolerance = 0.03

    /// Every scene of the source in order, with absolute times: each chunk's scenes shifted by its offset, and a
    /// scene that a chunk boundary cut in two joined again.
    public static func scenes(_ chunks: [(start: Double, analysis: ChunkAnalysis)]) -> [SceneAnalysis] {
        var result: [SceneAnalysis] = []
        var cuts: Set<Double> = []
        for chunk in chunks.sorted(by: { $0.start < $1.start }) {
            let shifted = chunk.analysis.shifted(by: chunk.start)
            cuts.formUnion(shifted.cuts.map { ($0 * 1000).rounded() / 1000 })
            for scene in shifted.scenes {
                if let last = result.last, shouldJoin(last, scene, boundary: chunk.start, cuts: cuts) {
                    result[result.count - 1] = join(last, scene)
                } else {
                    result.append(scene)
                }
            }
        }
        return result
    }

    static func shouldJoin(_ a: SceneAnalysis, _ b: SceneAnalysis, boundary: Double, cuts: Set<Double>) -> Bool {
        guard abs(b.start - boundary) < 0.05, abs(a.end - b.start) < 0.1,
            !cuts.contains((boundary * 1000).rounded() / 1000)
        else { return false }
        guard let lumaA = a.meanLuma, let lumaB = b.meanLuma, let motionA = a.motion, let motionB = b.motion else {
            return false
        }
        return abs(lumaA - lumaB) <= joinTolerance && abs(motionA - motionB) <= joinTolerance
    }

    static func join(_ a: SceneAnalysis, _ b: SceneAnalysis) -> SceneAnalysis {
        let total = max(a.duration + b.duration, 1e-9)
        func weighted(_ x: Double?, _ y: Double?) -> Double? {
            guard let x, let y else { return x ?? y }
            return (x * a.duration + y * b.duration) / total
        }
        let longer = a.duration >= b.duration ? a : b
        var labels = longer.labels
        for label in a.labels + b.labels where !labels.contains(label) { labels.append(label) }
        return SceneAnalysis(
            start: a.start, end: b.end,
            importance: ((a.importance * a.duration + b.importance * b.duration) / total * 1000).rounded() / 1000,
            description: longer.description, labels: labels, meanLuma: weighted(a.meanLuma, b.meanLuma),
            motion: weighted(a.motion, b.motion))
    }
}
