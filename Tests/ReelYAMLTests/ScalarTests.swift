import ReelYAML
import Testing

@Suite("YAML 1.2 core-schema scalars")
struct ScalarTests {
    static let plain: [(String, YAMLValue)] = [
        ("~", .null), ("null", .null), ("Null", .null), ("NULL", .null), ("", .null),
        ("true", .bool(true)), ("True", .bool(true)), ("FALSE", .bool(false)),
        // YAML 1.1 booleans are strings in 1.2.
        ("yes", .string("yes")), ("no", .string("no")), ("on", .string("on")), ("off", .string("off")),
        ("y", .string("y")),
        ("0", .int(0)), ("-0", .int(0)), ("+12", .int(12)), ("0755", .int(755)), ("0o17", .int(15)),
        ("0x1F", .int(31)), ("-9223372036854775808", .int(Int.min)), ("9223372036854775807", .int(Int.max)),
        ("1.5", .double(1.5)), ("-.5", .double(-0.5)), ("1e3", .double(1000)), ("6.", .double(6)),
        ("1E-2", .double(0.01)), (".inf", .double(.infinity)), ("-.Inf", .double(-.infinity)),
        // Not numbers in the core schema.
        ("1_000", .string("1_000")), ("0b101", .string("0b101")), ("0x", .string("0x")), ("1e", .string("1e")),
        ("inf", .string("inf")), ("nan", .string("nan")), ("12:30", .string("12:30")), ("1.2.3", .string("1.2.3")),
        ("0o8", .string("0o8")), ("-0x1", .string("-0x1")), ("hello world", .string("hello world")),
    ]

    @Test(arguments: plain)
    func plainScalar(text: String, expected: YAMLValue) throws {
        let docs = try YAMLParser.parse("value: \(text)\n")
        #expect(docs.first?["value"]?.value == expected)
    }

    @Test func nanResolves() throws {
        let value = try YAMLParser.parse("v: .NaN")[0]["v"]?.value
        guard case .double(let d)? = value else { Issue.record("not a double: \(String(describing: value))"); return }
        #expect(d.isNaN)
    }

    @Test func quotedAndBlockScalarsStayStrings() throws {
        let doc = try YAMLParser.parse(
            """
            a: "0755"
            b: '123'
            c: "true"
            d: |
              null
            e: >-
              1.5
            f: ""
            """)[0]
        #expect(doc["a"]?.value == .string("0755"))
        #expect(doc["b"]?.value == .string("123"))
        #expect(doc["c"]?.value == .string("true"))
        #expect(doc["d"]?.value == .string("null\n"))
        #expect(doc["e"]?.value == .string("1.5"))
        #expect(doc["f"]?.value == .string(""))
    }

    @Test func explicitCoreTags() throws {
        let doc = try YAMLParser.parse("a: !!str 123\nb: !!int \"12\"\nc: !!float 3\nd: !!bool true\ne: !!null ''\n")[0]
        #expect(doc["a"]?.value == .string("123"))
        #expect(doc["b"]?.value == .int(12))
        #expect(doc["c"]?.value == .double(3))
        #expect(doc["d"]?.value == .bool(true))
        #expect(doc["e"]?.value == .null)
    }

    @Test func foreignTagsAndBadTaggedValuesAreErrors() {
        let foreign = parseError("a: !Ref thing\n")
        #expect(foreign?.code == .invalidTag)
        #expect(foreign?.message.contains("!Ref") == true)
        let bad = parseError("a: !!int twelve\n")
        #expect(bad?.code == .invalidTag)
        #expect(bad?.mark == YAMLMark(line: 1, column: 4))
    }

    @Test func integerOverflowIsAnErrorNotAWrongNumber() {
        let overflow = parseError("big: 9223372036854775808\n")
        #expect(overflow?.code == .integerOverflow)
        #expect(overflow?.mark == YAMLMark(line: 1, column: 6))
    }
}

/// The error parsing `text` throws, or `nil` when it parses.
func parseError(_ text: String, limits: YAMLParser.Limits = .init()) -> YAMLError? {
    do {
        _ = try YAMLParser.parse(text, limits: limits)
        return nil
    } catch {
        return error
    }
}

extension YAMLError.Code: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
