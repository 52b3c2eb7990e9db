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

    /// `ticks` of this time base, reduced.
    public func times(_ ticks: Int64) -> Rational {
        var n = numerator * ticks, d = denominator
        let g = Self.gcd(abs(n), abs(d))
        if g > 1 {
            n /= g
            d /= g
        }
        return Rational(n, d)
    }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? max(a, 1) : gcd(b, a % b) }

    public var description: String { "\(numerator)/\(denominator)" }
}

/// `seconds` in ticks of `base`, rounded to the nearest.
func ticks(_ seconds: Double, _ base: AVRational) -> Int64 {
    Int64((seconds * Double(base.den) / Double(base.num)).rounded())
}
