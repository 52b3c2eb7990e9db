/// The scdet arithmetic and the scene bookkeeping, apart from FFmpeg so it can be reasoned about alone.
///
/// scdet scores each frame against the one before: MAFD (the mean absolute difference, percent of full scale) and
/// the score min(MAFD, |MAFD − previous MAFD|), so that steady motion (a steady MAFD) scores low and a cut (a
/// jump) scores high. When frames in between were not decoded (`steps` > 1: the decoder skipped non-reference
/// frames), the MAFD is compared both with the previous one as it is and scaled to the same number of frame steps:
/// steady motion grows with the steps, content that changes completely every frame does not, and a cut is a jump
/// from either.
struct ScoreState {
    let threshold: Double
    let minSceneSeconds: Double
    private var previousMAFD = 0.0
    private var previousSteps = 1
    private(set) var cuts: [SceneCut] = []
    private var scenes: [SceneSummary] = []
    private var sceneStart: Double?
    private var lumaSum = 0.0, motionSum = 0.0, frames = 0
    private var lastTime = 0.0, frameDuration = 0.0

    init(threshold: Double, minSceneSeconds: Double) {
        self.threshold = threshold
        self.minSceneSeconds = minSceneSeconds
    }

    /// The mean absolute difference of two thumbnails, percent of full scale.
    static func mafd(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var sad = 0
        for i in 0..<min(a.count, b.count) { sad += abs(Int(a[i]) - Int(b[i])) }
        return Double(sad) * 100 / Double(max(1, a.count)) / 256
    }

    /// scdet's score of a frame whose MAFD over `steps` frame steps is `mafd`, after one of `previousMAFD` over
    /// `previousSteps`.
    static func score(mafd: Double, steps: Int, previousMAFD: Double, previousSteps: Int) -> Double {
        let scaled = previousMAFD * Double(steps) / Double(max(1, previousSteps))
        return min(mafd, abs(mafd - previousMAFD), abs(mafd - scaled))
    }

    /// Takes the next decoded frame, measured (`FrameMeasure`), `steps` frame durations after the previous decoded
    /// one. A cut across skipped frames (`steps` > 1) is what `confirm` (given the previous decoded frame's time and
    /// this one's) says it is: the exact cut, or `nil` for none.
    mutating func add(
        _ frame: FrameMeasure, steps: Int = 1,
        confirm: (Double, Double) throws(MediaError) -> SceneCut? = { _, time in SceneCut(time: time, score: 0) }
    ) throws(MediaError) {
        let time = frame.time
        if let mafd = frame.mafd {
            let score = Self.score(
                mafd: mafd, steps: steps, previousMAFD: previousMAFD, previousSteps: previousSteps)
            let sinceLast = time - (cuts.last?.time ?? sceneStart ?? time)
            if score >= threshold, sinceLast >= minSceneSeconds {
                let found = SceneCut(time: time, score: (score * 1000).rounded() / 1000)
                if let cut = steps > 1 ? try confirm(lastTime, time) : found {
                    closeScene(at: cut.time)
                    cuts.append(cut)
                    sceneStart = cut.time
                }
            }
        }
        if sceneStart == nil { sceneStart = time }
        if time > lastTime { frameDuration = (time - lastTime) / Double(max(1, steps)) }
        lastTime = time
        previousMAFD = frame.mafd ?? 0
        previousSteps = max(1, steps)
        lumaSum += frame.meanLuma
        motionSum += (frame.mafd ?? 0) / 100 / Double(max(1, steps))
        frames += 1
    }

    private mutating func closeScene(at end: Double) {
        guard let start = sceneStart, frames > 0 else { return }
        scenes.append(
            SceneSummary(
                start: start, end: end, meanLuma: (lumaSum / Double(frames) * 1000).rounded() / 1000,
                motion: (motionSum / Double(frames) * 1000).rounded() / 1000))
        lumaSum = 0
        motionSum = 0
        frames = 0
    }

    mutating func report() -> SceneReport {
        closeScene(at: lastTime + frameDuration)
        return SceneReport(cuts: cuts, scenes: scenes)
    }
}

/// What scoring needs of one decoded frame: its time, mean luma (0–1) and MAFD against the frame decoded before it
/// (`nil` for the first, or when the sizes differ). Measured where the frame is decoded, so that stretches of a file
/// decoded apart give the same measures as one pass.
struct FrameMeasure: Sendable, Equatable {
    var time: Double
    var meanLuma: Double
    var mafd: Double?
}

/// Measures each thumbnail against the one before it.
struct FrameMeasurer {
    private var previous: [UInt8]?

    mutating func measure(_ luma: [UInt8], time: Double) -> FrameMeasure {
        var sum = 0
        for v in luma { sum += Int(v) }
        let mafd = previous.flatMap { $0.count == luma.count ? ScoreState.mafd(luma, $0) : nil }
        previous = luma
        return FrameMeasure(time: time, meanLuma: Double(sum) / Double(max(1, luma.count)) / 255, mafd: mafd)
    }
}
