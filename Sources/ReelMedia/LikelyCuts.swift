/// Guesses from packet sizes alone where cuts are likely, so that a pass decoding only reference frames can decode
/// the skipped frames there too, and answer a cut's second look from what it decoded.
///
/// A cut makes the first reference frame after it expensive: little of it can be predicted from before the cut.
/// A reference packet is a likely cut when it is a keyframe, or more than `factor` times the median size of the
/// `neighbours` reference packets of its kind before it, or of those after it (a cut into a still scene is dear
/// only next to what follows). Its window runs from the latest reference frame shown before it among those read
/// before it (for an anchor, the previous anchor: a reference B-frame right after a cut is cheap, being predicted
/// from the anchor after it) to itself; non-reference frames shown in a window are worth decoding. A wrong guess
/// costs a few frames decoded for nothing; a missed one costs what it cost before, a second look that decodes.
/// Measured on the 120-s long-GOP file of docs/benchmarks.md: 377 of its 1,460 skipped frames are decoded, and all
/// 53 second looks are answered from them.
struct LikelyCuts {
    static let neighbours = 3
    static let factor = 2.0
    /// Reference packets kept around a decision, in decoding order.
    static let kept = 64

    struct Reference {
        var time: Double
        var size: Int
        var kind: Int
        var key: Bool
    }

    /// The stream's nominal frame duration, in seconds (windows reach a frame and a half before their start).
    let frameDuration: Double
    private var references: [Reference] = []
    private var latest = -Double.infinity

    init(frameDuration: Double) { self.frameDuration = frameDuration }

    /// A reference packet read, in decoding order. Its kind is refined by whether it is shown after everything read
    /// before it (an anchor) or before (a reference B-frame of a pyramid), which HEVC's NAL headers do not say.
    mutating func read(_ reference: Reference) {
        var reference = reference
        reference.kind = reference.kind * 2 + (reference.time < latest ? 1 : 0)
        latest = max(latest, reference.time)
        references.append(reference)
        if references.count > 2 * Self.kept { references.removeFirst(references.count - Self.kept) }
    }

    /// Whether the non-reference frame shown at `time` lies in a likely cut's window, going by the reference
    /// packets read so far (those up to a few mini-GOPs ahead of the decoder).
    func decodes(nonReferenceAt time: Double) -> Bool {
        let horizon = 64 * max(frameDuration, 0.001)
        for (index, reference) in references.enumerated() where reference.time > time {
            guard reference.time - time < horizon, isLikelyCut(index) else { continue }
            // Read before it: an anchor's window spans its whole mini-GOP, reference B-frames included.
            let shownBefore = references[..<index].lazy.map(\.time).filter { $0 < reference.time }.max() ?? -.infinity
            if time >= shownBefore - 1.5 * frameDuration { return true }
        }
        return false
    }

    private func isLikelyCut(_ index: Int) -> Bool {
        let reference = references[index]
        if reference.key { return true }
        let before = references[..<index].lazy.filter { $0.kind == reference.kind }.suffix(Self.neighbours)
        let after = references[(index + 1)...].lazy.filter { $0.kind == reference.kind }.prefix(Self.neighbours)
        let baseline = [Self.median(before.map(\.size)), Self.median(after.map(\.size))].compactMap { $0 }.min()
        guard let baseline else { return true }
        return Double(reference.size) > Self.factor * Double(baseline)
    }

    private static func median(_ sizes: [Int]) -> Int? {
        guard !sizes.isEmpty else { return nil }
        return sizes.sorted()[sizes.count / 2]
    }
}
