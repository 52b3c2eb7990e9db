import Foundation
import ReelYAML
import Testing

@Suite("Parsing documents")
struct ParserTests {
    private func error(_ text: String, limits: YAMLParser.Limits = .init()) -> YAMLError? {
        parseError(text, limits: limits)
    }

    @Test func marksAreOneBasedLineAndColumn() throws {
        let doc = try YAMLParser.parse("# comment\nspec:\n  split:\n    targetSeconds: 60  # trailing\n")[0]
        #expect(doc.mark == YAMLMark(line: 2, column: 1))
        let split = try #require(doc["spec"]?["split"])
        #expect(split.mark == YAMLMark(line: 4, column: 5))
        #expect(split.pair("targetSeconds")?.key.mark == YAMLMark(line: 4, column: 5))
        #expect(split["targetSeconds"]?.mark == YAMLMark(line: 4, column: 20))
        #expect(split["targetSeconds"]?.value == .int(60))
    }

    @Test func commentsAreIgnored() throws {
        let docs = try YAMLParser.parse("# only a comment\na: 1 # one\n# b: 2\nlist: # items\n- x # first\n")
        #expect(docs == [["a": 1, "list": ["x"]]])
    }

    @Test func multiDocumentStreamsWithEmptyDocuments() throws {
        let docs = try YAMLParser.parse("---\n---\na: 1\n---\n# nothing here\n---\n- 2\n...\n")
        #expect(docs.count == 4)
        #expect(docs[0].value == .null)
        #expect(docs[1] == ["a": 1])
        #expect(docs[2].value == .null)
        #expect(docs[3] == [2])
        #expect(docs[3].mark.line == 7)
        #expect(try YAMLParser.parse("").isEmpty)
        #expect(try YAMLParser.parse("# just a comment\n").isEmpty)
    }

    @Test func anchorsAndAliases() throws {
        let doc = try YAMLParser.parse(
            """
            base: &base {targetSeconds: 30, maxBytes: 1048576}
            copy: *base
            list: [&x 1, *x, *x]
            """)[0]
        #expect(doc["copy"] == doc["base"])
        #expect(doc["copy"]?.mark == YAMLMark(line: 2, column: 7))
        #expect(doc["list"] == [1, 1, 1])
    }

    @Test func undefinedAliasIsAnError() {
        let e = error("a: *nowhere\n")
        #expect(e?.code == .undefinedAlias)
        #expect(e?.mark == YAMLMark(line: 1, column: 4))
    }

    @Test func billionLaughsIsRefusedNotExpanded() {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        let e = error(text)
        #expect(e?.code == .aliasExpansionLimit)
        #expect((e?.mark?.line ?? 0) <= 7)
        // A modest document with aliases well inside the bound still parses.
        #expect(error("a: &a [1, 2]\nb: [*a, *a, *a]\n") == nil)
        #expect(
            error("a: &a [1, 2, 3]\nb: [*a, *a]\n", limits: .init(maxAliasExpandedNodes: 5))?.code
                == .aliasExpansionLimit)
    }

    @Test func duplicateKeysNameBothPositions() {
        let e = error("metadata:\n  name: a\n  labels: {}\n  name: b\n")
        #expect(e?.code == .duplicateKey)
        #expect(e?.mark == YAMLMark(line: 4, column: 3))
        #expect(e?.relatedMark == YAMLMark(line: 2, column: 3))
        #expect(e?.message.contains("line 2, column 3") == true)
        // Keys are compared by value: 1 and "1" differ, 0x1 and 1 do not.
        #expect(error("1: a\n\"1\": b\n") == nil)
        #expect(error("1: a\n0x1: b\n")?.code == .duplicateKey)
    }

    @Test func blockScalars() throws {
        let doc = try YAMLParser.parse(
            """
            literal: |
              line one
                indented
              line three
            folded: >
              folded
              together

              new paragraph
            strip: |-
              no newline
            keep: |+
              kept

            end: 1
            """)[0]
        #expect(doc["literal"]?.value == .string("line one\n  indented\nline three\n"))
        #expect(doc["folded"]?.value == .string("folded together\nnew paragraph\n"))
        #expect(doc["strip"]?.value == .string("no newline"))
        #expect(doc["keep"]?.value == .string("kept\n\n"))
    }

    @Test func unicodeKeysValuesAndColumnsInCharacters() throws {
        let doc = try YAMLParser.parse("titre: «Vidéo» 🎬\n日本語: 値\nnext: [é, x]\n")[0]
        #expect(doc["titre"]?.value == .string("«Vidéo» 🎬"))
        #expect(doc["日本語"]?.value == .string("値"))
        #expect(doc["日本語"]?.mark == YAMLMark(line: 2, column: 6))
        #expect(doc["next"]?.items?[1].mark == YAMLMark(line: 3, column: 11))
        let escaped = try YAMLParser.parse("a: \"\\u00e9\\U0001F3AC\\t\"\n")[0]
        #expect(escaped["a"]?.value == .string("é🎬\t"))
    }

    @Test func utf16WithByteOrderMark() throws {
        var bytes: [UInt8] = [0xFF, 0xFE]
        for unit in "a: é\n".utf16 { bytes += [UInt8(unit & 0xff), UInt8(unit >> 8)] }
        #expect(try YAMLParser.parse(bytes: bytes) == [["a": "é"]])
    }

    @Test func tabsInsideScalarsAreFineTabsAsIndentationAreNot() throws {
        #expect(try YAMLParser.parse("a: \"x\ty\"\nb: x\ty\n")[0] == ["a": "x\ty", "b": "x\ty"])
        let e = error("spec:\n\tsource: x\n")
        #expect(e?.code == .syntax)
        #expect(e?.mark == YAMLMark(line: 2, column: 1))
        #expect(e?.message.contains("a tab: YAML indents with spaces only") == true)
    }

    @Test func malformedInputGivesLibyamlsPosition() {
        let unclosed = error("a: [1, 2\nb: 3\n")
        #expect(unclosed?.code == .syntax)
        #expect(unclosed?.mark == YAMLMark(line: 2, column: 2))
        #expect(unclosed?.message.contains("expected ',' or ']'") == true)
        let badIndent = error("spec:\n  a: 1\n b: 2\n")
        #expect(badIndent?.code == .syntax)
        #expect(badIndent?.mark == YAMLMark(line: 3, column: 2))
        let colon = error("key: value: other\n")
        #expect(colon?.code == .syntax)
        #expect(colon?.mark == YAMLMark(line: 1, column: 11))
        #expect(colon?.message.contains("mapping values are not allowed") == true)
        let quote = error("a: \"unterminated\n")
        #expect(quote?.code == .syntax)
        #expect(quote?.message.contains("while scanning a quoted scalar at 1:4") == true)
    }

    @Test func invalidUTF8IsAnEncodingError() {
        let thrown = #expect(throws: YAMLError.self) {
            try YAMLParser.parse(bytes: Array("a: ".utf8) + [0xC3, 0x28] + Array("\n".utf8))
        }
        #expect(thrown?.code == .encoding)
    }

    @Test func complexKeysAndDeepNestingAreRefused() {
        #expect(error("? [a, b]\n: c\n")?.code == .complexKey)
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(error(deep)?.code == .depthLimit)
        #expect(error(deep, limits: .init(maxDepth: 400)) == nil)
    }

    @Test func jsonIsYAML() throws {
        let doc = try YAMLParser.parse(
            #"{"apiVersion": "reel.dev/v1alpha1", "spec": {"n": 1.5, "l": [true, null], "s": "a\/b"}}"#)[0]
        #expect(doc == ["apiVersion": "reel.dev/v1alpha1", "spec": ["n": 1.5, "l": [true, nil], "s": "a/b"]])
    }

    /// The document is made and parsed on a thread of its own: a debug build takes over a minute of CPU for it, and
    /// on a cooperative thread (two on this machine) it held back every other test's tasks for that long.
    @Test func tenMegabyteDocument() async throws {
        let line = "- {name: item-NNNNNN, uri: \"file:///data/videos/clip.mp4\", seconds: 12.5, keep: true}\n"
        let count = 10_000_000 / line.utf8.count + 1
        let (bytes, parsed) = await Self.onThread { () -> (Int, Result<[YAMLNode], YAMLError>) in
            var text = "items:\n"
            text.reserveCapacity(count * line.utf8.count + 16)
            for i in 0..<count {
                text += line.replacingOccurrences(of: "NNNNNN", with: String(i).leftPadded(6))
            }
            return (text.utf8.count, Result { () throws(YAMLError) in try YAMLParser.parse(text) })
        }
        #expect(bytes >= 10_000_000)
        let doc = try parsed.get()[0]
        let items = try #require(doc["items"]?.items)
        #expect(items.count == count)
        #expect(items.last?["name"]?.value == .string("item-\(String(count - 1).leftPadded(6))"))
        #expect(items.last?.mark.line == count + 1)
    }
}

extension ParserTests {
    /// Runs `work` on a new thread and returns what it returned.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
