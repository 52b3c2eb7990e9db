extension SceneDetector {
    /// A stretch's second looks, answered where it can from the frames its own pass decoded.
    ///
    /// The pass decodes reference frames, plus the skipped frames where `LikelyCuts` guesses a cut. It scores its
    /// measures as the scorer will (with no minimum scene length, so no answer changes a later question) and
    /// notes each cut across skipped frames. A question is answered here when every frame from the one before
    /// its first through its last was decoded, in order: then the MAFDs of consecutive frames are what a second
    /// look would measure, and `strongest` picks the same frame. Every other question is `left` for a second look
    /// that decodes (`closer`).
    struct PassLooks {
        let threshold: Double
        /// The stream's nominal frame duration.
        let frameDuration: Double
        private var steps: FrameSteps
        private var scoring: ScoreState
        /// Each decoded frame's MAFD against the frame decoded just before it, for the frames a question may need.
        private var changes: [(time: Double, previous: Double, mafd: Double)] = []
        /// Frames decoded after a later-shown one (their neighbours' changes skip them).
        private var disorder: [Double] = []
        private var last: (time: Double, thumb: [UInt8], measured: Bool)?
        private var lastMeasured: Double?
        private var pending: [Look] = []
        private(set) var answered: [Look: SceneCut?] = [:]
        private(set) var left: [Look] = []

        init(threshold: Double, frameDuration: Double) {
            self.threshold = threshold
            self.frameDuration = frameDuration
            steps = FrameSteps(frameDuration: frameDuration)
            scoring = ScoreState(threshold: threshold, minSceneSeconds: 0)
        }

        /// A frame as the decoder gave it, with its measure when it is a measured one.
        mutating func decoded(_ thumb: [UInt8], time: Double, measure: FrameMeasure?) {
            if let last, time > last.time {
                if last.thumb.count == thumb.count {
                    // A measured frame after a measured one: its measure holds the MAFD already.
                    let mafd =
                        last.measured && measure?.mafd != nil ? measure!.mafd! : ScoreState.mafd(thumb, last.thumb)
                    changes.append((time, last.time, mafd))
                }
            } else if last != nil {
                disorder.append(time)
            }
            last = (time, thumb, measure != nil)
        }

        /// A measure of the stretch, in order: answers the questions asked so far (every frame shown before the
        /// last one asked about has been decoded by now), then scores it and notes the question it asks.
        mutating func measured(_ frame: FrameMeasure, source: FrameSource) throws(MediaError) {
            resolve(source)
            let count = steps.advance(to: frame.time)
            let frameDuration = steps.frameDuration
            var asked: Look?
            try scoring.add(frame, steps: count) { after, time throws(MediaError) in
                asked = Look(after: after, through: time, frameDuration: frameDuration)
                return nil
            }
            if let asked { pending.append(asked) }
            lastMeasured = frame.time
        }

        /// Answers what is pending; call once the stretch's frames are all decoded.
        mutating func finish(_ source: FrameSource) { resolve(source) }

        private mutating func resolve(_ source: FrameSource) {
            for look in pending {
                if let cut = answer(look, source) { answered[look] = .some(cut) } else { left.append(look) }
            }
            pending = []
            // The next question starts at the last measure: nothing before it is needed again.
            guard let from = lastMeasured else { return }
            let margin = 2 * steps.frameDuration
            if let stale = changes.firstIndex(where: { $0.time >= from }), stale > 256 { changes.removeFirst(stale) }
            disorder.removeAll { $0 < from - margin }
            source.forgetSkips(before: from - margin)
        }

        /// The second look's answer from the frames decoded here (`.some(nil)`: no cut), or nil when a frame it
        /// needs was not decoded.
        private func answer(_ look: Look, _ source: FrameSource) -> SceneCut?? {
            let first = look.after - 1.5 * look.frameDuration
            let inWindow = { (time: Double) in time >= first && time <= look.through }
            guard source.skipsKnown, !source.skipped.contains(where: inWindow), !disorder.contains(where: inWindow),
                var index = changes.lastIndex(where: { $0.time == look.through })
            else { return nil }
            var chain: [(time: Double, mafd: Double)] = []
            while true {
                let change = changes[index]
                if change.time == look.after {
                    // The frame before `after` opens a second look's frames if it is within a frame and a half.
                    if change.previous >= first { chain.append((change.time, change.mafd)) }
                    break
                }
                chain.append((change.time, change.mafd))
                guard change.previous >= look.after, index > 0, changes[index - 1].time == change.previous else {
                    return nil
                }
                index -= 1
            }
            return .some(
                SceneDetector.strongest(
                    chain.reversed(), after: look.after, through: look.through, look.frameDuration,
                    threshold: threshold))
        }
    }
}
