/// YAML 1.2 core-schema resolution of plain scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
///
/// Only plain (unquoted) scalars are resolved; quoted and block scalars are always strings, so `"0755"` stays
/// a string. YAML 1.1's `yes`/`no`/`on`/`off` are strings here, as in the 1.2 core schema.
public enum CoreSchema {
    static let strTag = "tag:yaml.org,2002:str"
    static let intTag = "tag:yaml.org,2002:int"
    static let floatTag = "tag:yaml.org,2002:float"
    static let boolTag = "tag:yaml.org,2002:bool"
    static let nullTag = "tag:yaml.org,2002:null"
    static let seqTag = "tag:yaml.org,2002:seq"
    static let mapTag = "tag:yaml.org,2002:map"

    /// The value a plain scalar stands for.
    public static func resolvePlain(_ text: String) throws(YAMLError) -> YAMLValue {
        if let null = null(text) { return null }
        if let bool = bool(text) { return .bool(bool) }
        if let int = try int(text) { return .int(int) }
        if let double = double(text) { return .double(double) }
        return .string(text)
    }

    /// Whether `text`, written plain, would read back as the string `text`.
    public static func isPlainString(_ text: String) -> Bool {
        guard let value = try? resolvePlain(text) else { return false }
        return value == .string(text)
    }

    static func null(_ text: String) -> YAMLValue? {
        switch text {
        case "", "~", "null", "Null", "NULL": .null
        default: nil
        }
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": true
        case "false", "False", "FALSE": false
        default: nil
        }
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`; `nil` when the text is no integer, an error when it is one
    /// that does not fit 64 bits (silently losing digits to a double would be worse).
    static func int(_ text: String) throws(YAMLError) -> Int? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return nil }
        var digits = utf8[...]
        var radix = 10
        var negative = false
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "o") {
            radix = 8
            digits = utf8[2...]
        } else if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") {
            radix = 16
            digits = utf8[2...]
        } else if utf8[0] == UInt8(ascii: "-") || utf8[0] == UInt8(ascii: "+") {
            negative = utf8[0] == UInt8(ascii: "-")
            digits = utf8[1...]
        }
        guard !digits.isEmpty, digits.allSatisfy({ isDigit($0, radix: radix) }) else { return nil }
        let body = String(decoding: digits, as: UTF8.self)
        guard let magnitude = UInt64(body, radix: radix) else {
            throw YAMLError(.integerOverflow, "integer \(text) does not fit in 64 bits")
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else {
                throw YAMLError(.integerOverflow, "integer \(text) does not fit in 64 bits")
            }
            return magnitude == UInt64(Int64.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else {
            throw YAMLError(.integerOverflow, "integer \(text) does not fit in 64 bits")
        }
        return Int(magnitude)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`.
    static func double(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let u = Array(text.utf8)
        var i = 0
        if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
        let intStart = i
        while i < u.count, isDigit(u[i], radix: 10) { i += 1 }
        let intDigits = i - intStart
        var fracDigits = 0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < u.count, isDigit(u[i], radix: 10) { i += 1 }
            fracDigits = i - fracStart
        }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
            let expStart = i
            while i < u.count, isDigit(u[i], radix: 10) { i += 1 }
            guard i > expStart else { return nil }
        }
        guard i == u.count else { return nil }
        return Double(text)
    }

    /// Resolves a scalar carrying an explicit core-schema tag (`!!str`, `!!int`, …).
    static func resolveTagged(_ text: String, tag: String) throws(YAMLError) -> YAMLValue {
        switch tag {
        case strTag, "!": return .string(text)
        case nullTag:
            if let null = null(text) { return null }
        case boolTag:
            if let bool = bool(text) { return .bool(bool) }
        case intTag:
            if let int = try int(text) { return .int(int) }
        case floatTag:
            if let double = double(text) { return .double(double) }
            if let int = try int(text) { return .double(Double(int)) }
        default:
            throw YAMLError(.invalidTag, "unsupported tag \(tag); Reel reads the YAML 1.2 core schema only")
        }
        throw YAMLError(.invalidTag, "\"\(text)\" is not a valid \(tag)")
    }

    private static func isDigit(_ c: UInt8, radix: Int) -> Bool {
        switch radix {
        case 8: c >= UInt8(ascii: "0") && c <= UInt8(ascii: "7")
        case 16:
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
                || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
        default: c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
        }
    }
}
