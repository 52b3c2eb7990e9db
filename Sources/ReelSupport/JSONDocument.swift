import FoundationEssentials

/// A JSON document kept as its text: specs, statuses and payloads on their way between a typed value and a
/// store. Encoding sorts keys, so equal values give equal text (the stores compare statuses by text).
public struct JSONDocument: Sendable, Equatable {
    /// The JSON text.
    public var text: String

    /// JSON text as it is.
    public init(text: String) { self.text = text }

    /// The JSON encoding of `value`.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The text as UTF-8, for a request body.
    public var data: Data { Data(text.utf8) }

    /// Decodes the JSON into `type`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// `{}`.
    public static let emptyObject = JSONDocument(text: "{}")
}
