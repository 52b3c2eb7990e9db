import FoundationEssentials

/// A point in time written as RFC 3339 (`2026-01-02T15:04:05Z`), as Kubernetes' `metav1.Time` is. Fractional
/// seconds and offsets are read; UTC with whole seconds is written.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The instant.
    public var date: Date

    /// The instant `date`, truncated to whole seconds (what is written is what is read back).
    public init(_ date: Date) {
        self.date = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    /// Parses an RFC 3339 date-time; `nil` when `text` is not one.
    public init?(rfc3339 text: String) {
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let date = try? plain.parse(text) {
            self.date = date
        } else if let date = try? fractional.parse(text) {
            self.date = date
        } else {
            return nil
        }
    }

    /// The RFC 3339 text, UTC, whole seconds.
    public var description: String { date.formatted(Date.ISO8601FormatStyle()) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not an RFC 3339 date-time")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.date < rhs.date }
}
