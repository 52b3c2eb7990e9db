import FoundationEssentials
import ReelSupport

/// Model timestamps to trustworthy seconds: parsed (`MM:SS`, `MM:SS.s`, `HH:MM:SS`, or a number of seconds),
/// clamped to the chunk, and snapped to the nearest detected cut within a tolerance.
public enum GeminiTimes {
    /// Seconds from `MM:SS`, `MM:SS.fff`, `HH:MM:SS(.fff)` or a plain number; `nil` when it is none of these.
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingWhitespace
        if let plain = Double(trimmed) { return plain >= 0 ? plain : nil }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let last = Double(parts.last!), last >= 0, last < 60 else { return nil }
        var total = last
        var scale = 60.0
        for part in parts.dropLast().reversed() {
            guard let value = Int(part), value >= 0, part.allSatisfy(\.isNumber) else { return nil }
            total += Double(value) * scale
            scale *= 60
        }
        return total
    }

    /// `time` clamped to 0…duration and moved to the nearest of `cuts` (plus the chunk's start and end) when one
    /// is within `tolerance`.
    public static func snap(_ time: Double, duration: Double, cuts: [Double], tolerance: Double) -> Double {
        let clamped = min(max(0, time), duration)
        let candidates = cuts + [0, duration]
        guard let nearest = candidates.min(by: { abs($0 - clamped) < abs($1 - clamped) }),
            abs(nearest - clamped) <= tolerance
        else { return clamped }
        return nearest
    }
}
