import ReelYAML
import Testing

/// A small deterministic generator (SplitMix64), so a failing round trip can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random trees whose strings are chosen to be hard: ones that look like other scalars, indicators, quotes,
/// newlines, leading/trailing spaces, unicode.
struct TreeGenerator {
    var rng: SplitMix64
    static let trickyStrings = [
        "", " ", "true", "False", "null", "~", "yes", "on", "0755", "0x1F", "1e3", ".inf", "-.5", "12", "-",
        "- item", "? key", ": value", "a: b", "#not a comment", "a #b", "'single'", "\"double\"", "back\\slash",
        "line one\nline two", "trailing newline\n", "  leading spaces", "trailing spaces  ", "tab\there", "\t",
        "[flow]", "{flow: map}", "*alias", "&anchor", "!tag", "%directive", "@reserved", "`backtick", "|", ">",
        "---", "...", "é", "日本語", "🎬 emoji", "\u{7f}control", "carriage\rreturn", "ends with colon:",
        "a,b", "100%", "x: y: z", "multi\n\nparagraph\n", "\nleading newline",
    ]

    mutating func node(depth: Int = 0) -> YAMLNode {
        let pick = depth >= 4 ? Int.random(in: 0..<6, using: &rng) : Int.random(in: 0..<9, using: &rng)
        switch pick {
        case 0: return YAMLNode(.null)
        case 1: return YAMLNode(.bool(Bool.random(using: &rng)))
        case 2:
            return YAMLNode(.int(Int.random(in: Int.min...Int.max, using: &rng) >> Int.random(in: 0..<64, using: &rng)))
        case 3:
            let d = [
                0.1, -2.5e-300, 1e300, 3.0, -0.0, .infinity, -.infinity, Double.random(in: -1e6...1e6, using: &rng),
            ]
            return YAMLNode(.double(d.randomElement(using: &rng)!))
        case 4, 5: return YAMLNode(.string(string()))
        case 6: return YAMLNode(.sequence((0..<Int.random(in: 0..<4, using: &rng)).map { _ in node(depth: depth + 1) }))
        default:
            var pairs: [YAMLPair] = []
            var used: Set<String> = []
            for _ in 0..<Int.random(in: 0..<5, using: &rng) {
                let key = string()
                guard used.insert(key).inserted else { continue }
                pairs.append(YAMLPair(key: YAMLNode(.string(key)), value: node(depth: depth + 1)))
            }
            return YAMLNode(.mapping(pairs))
        }
    }

    mutating func string() -> String {
        if Bool.random(using: &rng) { return Self.trickyStrings.randomElement(using: &rng)! }
        let alphabet = Array("abcXYZ019 _-.:#'\"\\\n\té🎬{}[],&*!|>%@`")
        return String((0..<Int.random(in: 1..<12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }
}

@Suite("Emitting YAML")
struct EmitterTests {
    @Test func blockStyleOutput() throws {
        let doc: YAMLNode = [
            "apiVersion": "reel.dev/v1alpha1",
            "spec": ["stages": ["split", "analyze"], "empty": .init(.mapping([])), "none": .init(.sequence([]))],
            "mode": "0755", "flag": "true", "blank": "", "n": 3, "x": 0.5, "text": "two\nlines\n",
        ]
        let text = try YAMLEmitter.emit(doc)
        #expect(
            text == """
                apiVersion: reel.dev/v1alpha1
                spec:
                  stages:
                  - split
                  - analyze
                  empty: {}
                  none: []
                mode: "0755"
                flag: "true"
                blank: ""
                n: 3
                x: 0.5
                text: |
                  two
                  lines

                """)
        #expect(try YAMLParser.parse(text) == [doc])
    }

    @Test func multipleDocumentsAreSeparated() throws {
        let text = try YAMLEmitter.emit([["a": 1], ["b": 2]])
        #expect(text == "a: 1\n---\nb: 2\n")
        #expect(try YAMLParser.parse(text) == [["a": 1], ["b": 2]])
    }

    /// Property: for any tree, emit then parse gives the same tree back.
    @Test(arguments: 0..<400)
    func roundTrip(seed: Int) throws {
        var generator = TreeGenerator(rng: SplitMix64(state: UInt64(seed)))
        let tree = generator.node()
        let text = try YAMLEmitter.emit(tree)
        let parsed = try YAMLParser.parse(text)
        #expect(parsed == [tree], "seed \(seed) wrote:\n\(text)")
    }
}
