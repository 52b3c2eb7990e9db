/// The keyframes a pass read, by presentation time, with the byte each one's packet starts at. A container that
/// keeps no index (MPEG-TS) seeks by estimate, often to a frame that is no keyframe and whose pictures decode from
/// references never decoded; a second look that knows where the keyframe before it starts seeks to that byte
/// instead, and decodes from the keyframe.
struct KeyframeTable: Sendable {
    private var times: [Double] = []
    private var positions: [Int64] = []

    var isEmpty: Bool { times.isEmpty }

    /// Adds a keyframe read at `position` in the file; one without a position, or shown before the last added
    /// (read out of order), is left out.
    mutating func add(time: Double, position: Int64) {
        guard position >= 0, time > times.last ?? -.infinity else { return }
        times.append(time)
        positions.append(position)
    }

    /// The last keyframe shown at or before `seconds`, if one was read.
    func atOrBefore(_ seconds: Double) -> (time: Double, position: Int64)? {
        var (low, high) = (0, times.count)
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= seconds { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : (times[low - 1], positions[low - 1])
    }
}
