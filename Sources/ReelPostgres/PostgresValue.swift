import FoundationEssentials
import ReelSupport

/// A Swift value that can be sent as a statement parameter, in Postgres' text format.
public protocol PostgresEncodable: Sendable {
    /// The parameter's text; the server casts it to the parameter's type.
    var postgresText: String { get }
}

/// A Swift value that can be read from a column in Postgres' text format.
public protocol PostgresDecodable: Sendable {
    /// Parses the column's text; throws `PostgresError.Code.decoding` when it cannot.
    init(postgresText text: String) throws(PostgresError)
}

func decodingError(_ text: String, _ type: String) -> PostgresError {
    PostgresError(.decoding, "cannot read \"\(text.prefix(64))\" as \(type)")
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self }
    public init(postgresText text: String) { self = text }
}

extension Int: PostgresEncodable, PostgresDecodable {}
extension Int64: PostgresEncodable, PostgresDecodable {}
extension Int32: PostgresEncodable, PostgresDecodable {}

extension PostgresEncodable where Self: FixedWidthInteger {
    public var postgresText: String { String(self) }
}

extension PostgresDecodable where Self: FixedWidthInteger {
    public init(postgresText text: String) throws(PostgresError) {
        guard let value = Self(text) else { throw decodingError(text, "a \(Self.self)") }
        self = value
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
    public init(postgresText text: String) throws(PostgresError) {
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let v = Double(text) else { throw decodingError(text, "a double") }
            self = v
        }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self ? "t" : "f" }
    public init(postgresText text: String) throws(PostgresError) {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw decodingError(text, "a boolean")
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { uuidString.lowercased() }
    public init(postgresText text: String) throws(PostgresError) {
        guard let v = UUID(uuidString: text) else { throw decodingError(text, "a uuid") }
        self = v
    }
}

/// `bytea`, sent and read in the hex format.
extension Data: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 2 + count * 2)
        out[0] = UInt8(ascii: "\\")
        out[1] = UInt8(ascii: "x")
        for (i, byte) in enumerated() {
            out[2 + 2 * i] = digits[Int(byte >> 4)]
            out[3 + 2 * i] = digits[Int(byte & 0xf)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public init(postgresText text: String) throws(PostgresError) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            throw decodingError(text, "bytea (hex)")
        }
        func nibble(_ c: UInt8) throws(PostgresError) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: throw decodingError(text, "bytea (hex)")
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var i = 2
        while i < utf8.count {
            bytes.append(try nibble(utf8[i]) << 4 | nibble(utf8[i + 1]))
            i += 2
        }
        self = Data(bytes)
    }
}

/// `timestamptz`, exchanged as ISO 8601 in UTC (connections set `DateStyle=ISO` and `TimeZone=UTC`), with
/// microseconds, Postgres' precision.
extension Date: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        let micros = Int64((timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let (y, m, d) = CivilDate.fromDays(days)
        let (hour, minute, second) = (secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60)
        return cFormat(
            "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00", y, m, d, hour, minute, second, fraction)
    }

    /// Reads `2026-11-29 10:00:00.123456+00` (any offset, optional fraction).
    public init(postgresText text: String) throws(PostgresError) {
        let u = Array(text.utf8)
        func number(_ range: Range<Int>) throws(PostgresError) -> Int64 {
            guard range.upperBound <= u.count else { throw decodingError(text, "a timestamptz") }
            var v: Int64 = 0
            for i in range {
                guard u[i] >= 48, u[i] <= 57 else { throw decodingError(text, "a timestamptz") }
                v = v * 10 + Int64(u[i] - 48)
            }
            return v
        }
        guard u.count >= 19, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else {
            throw decodingError(text, "a timestamptz")
        }
        let days = CivilDate.toDays(year: try number(0..<4), month: try number(5..<7), day: try number(8..<10))
        var seconds = days * 86400 + (try number(11..<13)) * 3600 + (try number(14..<16)) * 60 + (try number(17..<19))
        var i = 19
        var micros: Int64 = 0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(u[i] - 48) }
                digits += 1
                i += 1
            }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            let sign: Int64 = u[i] == UInt8(ascii: "-") ? -1 : 1
            var offset = (try number(i + 1..<i + 3)) * 3600
            if i + 3 < u.count, u[i + 3] == UInt8(ascii: ":") { offset += (try number(i + 4..<i + 6)) * 60 }
            seconds -= sign * offset
        }
        self = Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }
}

/// Days since 1970-01-01 and proleptic Gregorian dates (Howard Hinnant's civil-date algorithms).
enum CivilDate {
    static func toDays(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func fromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// JSON documents, as `json`/`jsonb` text.
extension JSONDocument: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { text }
    public init(postgresText text: String) { self.init(text: text) }
}

/// One-dimensional arrays, as `{a,b,"c d",NULL}`.
extension Array: PostgresEncodable where Element: PostgresEncodable {
    public var postgresText: String { NullableArray(map { $0 }).postgresText }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    public init(postgresText text: String) throws(PostgresError) {
        self = try PostgresArrayParser.parse(text).map { item throws(PostgresError) in
            guard let item else { throw decodingError(text, "an array without NULLs") }
            return try Element(postgresText: item)
        }
    }
}

enum PostgresArrayParser {
    /// The elements of a one-dimensional array literal; `nil` for NULL.
    static func parse(_ text: String) throws(PostgresError) -> [String?] {
        let chars = Array(text)
        guard chars.first == "{", chars.last == "}" else { throw decodingError(text, "an array") }
        var items: [String?] = []
        var i = 1
        let end = chars.count - 1
        guard end > 1 else { return [] }
        while i < end {
            if chars[i] == "\"" {
                var value = ""
                i += 1
                while i < end, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < end { i += 1 }
                    value.append(chars[i])
                    i += 1
                }
                i += 1  // closing quote
                items.append(value)
            } else {
                var value = ""
                while i < end, chars[i] != "," {
                    value.append(chars[i])
                    i += 1
                }
                items.append(value == "NULL" ? nil : value)
            }
            if i < end, chars[i] == "," { i += 1 }
        }
        return items
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A one-dimensional array whose elements may be NULL.
public struct NullableArray<Element: PostgresEncodable>: PostgresEncodable {
    public var elements: [Element?]

    public init(_ elements: [Element?]) { self.elements = elements }

    public var postgresText: String {
        var out = "{"
        out.reserveCapacity(elements.count * 8 + 2)
        for (i, element) in elements.enumerated() {
            if i > 0 { out += "," }
            guard let element else {
                out += "NULL"
                continue
            }
            let text = element.postgresText
            out += "\""
            if text.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) {
                for c in text.unicodeScalars {
                    if c == "\\" || c == "\"" { out += "\\" }
                    out.unicodeScalars.append(c)
                }
            } else {
                out += text
            }
            out += "\""
        }
        return out + "}"
    }
}
