import CFFmpeg

/// An exact fraction, as FFmpeg's time bases and frame rates are.
public struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    public var numerator: Int64
    public var denominator: Int64

    public init(_ numerator: Int64, _ denominator: Int64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    init(_ r: AVRational) { self.init(Int64(r.num), Int64(r.den)) }

    /// The value as a double (0 for a zero denominator).
    public var seconds: Double { denominator == 0 ? 0 : Double(numerator) / Double(denominator) }

    /// `ticks` of this time base, reduced; exact unless the product passes Int64, then to the microsecond.
    public func times(_ ticks: Int64) -> Rational {
        guard ticks != .min, numerator != .min else { return Self.approximately(seconds * Double(ticks)) }
        // Reduce before multiplying, so that only a value past Int64 itself overflows.
        let common = Self.gcd(abs(ticks), abs(denominator))
        let (product, overflow) = numerator.multipliedReportingOverflow(by: ticks / common)
        guard !overflow else { return Self.approximately(seconds * Double(ticks)) }
        var n = product, d = denominator / common
        let g = Self.gcd(abs(n), abs(d))
        if g > 1 {
            n /= g
            d /= g
        }
        return Rational(n, d)
    }

    /// `value` in microseconds, clamped to what Int64 holds.
    static func approximately(_ value: Double) -> Rational {
        let micros = (value * 1e6).rounded()
        guard micros.isFinite else { return Rational(value < 0 ? Int64.min + 1 : Int64.max, 1_000_000) }
        return Rational(Int64(max(-9.2e18, min(9.2e18, micros))), 1_000_000)
    }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? max(a, 1) : gcd(b, a % b) }

    public var description: String { "\(numerator)/\(denominator)" }
}

/// `seconds` in ticks of `base`, rounded to the nearest.
func ticks(_ seconds: Double, _ base: AVRational) -> Int64 {
    Int64((seconds * Double(base.den) / Double(base.num)).rounded())
}
