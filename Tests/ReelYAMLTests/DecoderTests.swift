import ReelYAML
import Testing

private struct Split: Decodable, Equatable {
    var targetSeconds: Int
    var maxBytes: Int?
}

private struct Spec: Decodable, Equatable {
    var title: String
    var ratio: Double
    var enabled: Bool
    var split: Split
    var stages: [String]
    var labels: [String: String]?
}

@Suite("Decoding trees into Codable types")
struct DecoderTests {
    @Test func decodesNestedValues() throws {
        let node = try YAMLParser.parse(
            """
            title: Keynote
            ratio: 2
            enabled: true
            split: {targetSeconds: 60}
            stages: [split, analyze]
            labels: {team: video}
            """)[0]
        let spec = try YAMLNodeDecoder.decode(Spec.self, from: node)
        #expect(
            spec
                == Spec(
                    title: "Keynote", ratio: 2, enabled: true, split: Split(targetSeconds: 60, maxBytes: nil),
                    stages: ["split", "analyze"], labels: ["team": "video"]))
    }

    @Test func errorsNameFieldPathAndPosition() throws {
        func failure(_ text: String) throws -> YAMLDecodingError? {
            do {
                _ = try YAMLNodeDecoder.decode(Spec.self, from: try YAMLParser.parse(text)[0])
                return nil
            } catch let error as YAMLDecodingError {
                return error
            }
        }
        let base = "title: t\nratio: 1\nenabled: false\n"
        let wrongType = try #require(try failure(base + "split: {targetSeconds: \"60\"}\nstages: []\n"))
        #expect(wrongType.path == "split.targetSeconds")
        #expect(wrongType.mark == YAMLMark(line: 4, column: 24))
        #expect(wrongType.message == "expected an integer, found string")

        let missing = try #require(try failure(base + "split:\n  maxBytes: 5\nstages: []\n"))
        #expect(missing.path == "split.targetSeconds")
        #expect(missing.mark == YAMLMark(line: 5, column: 3))

        let item = try #require(try failure(base + "split: {targetSeconds: 1}\nstages: [a, 7]\n"))
        #expect(item.path == "stages[1]")
        #expect(item.mark == YAMLMark(line: 5, column: 13))
        #expect(item.description == "5:13: stages[1]: expected a string, found integer")

        // A string is not a number, even when it looks like one.
        let numberAsString = try #require(
            try failure("title: 5\nratio: 1\nenabled: true\nsplit: {targetSeconds: 1}\nstages: []\n"))
        #expect(numberAsString.path == "title")
    }
}
