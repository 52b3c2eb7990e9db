import ReelAPI
import ReelYAML
import Testing

@Suite("Documents, streams and kinds")
struct DocumentTests {
    @Test func multiDocumentStreamWithEmptyDocumentsAndForeignObjects() {
        let report = ManifestReport.read(
            "---\n" + videoJob(name: "one") + "\n---\n---\n# empty\n---\n" + workerPool()
                + "\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: nonsense}\n")
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.resources.map(\.resource.kind) == ["VideoJob", "WorkerPool"])
        #expect(report.resources.map(\.documentIndex) == [0, 3])
        #expect(report.resources.map(\.nameMark.line) == [5, 18])
        #expect(report.foreign.map(\.kind) == ["Deployment"])
    }

    @Test func apiVersionAndKindChecks() {
        #expect(problems("kind: VideoJob\nmetadata: {name: a}\nspec: {}\n").first?.path == "apiVersion")
        let version = problems(videoJob().replacingFirst("v1alpha1", with: "v2"))
        #expect(version.first?.path == "apiVersion")
        #expect(version.first?.message == "unsupported version \"reel.dev/v2\": must be reel.dev/v1alpha1")
        let kind = problems("apiVersion: reel.dev/v1alpha1\nkind: VideoJb\n")
        #expect(kind.map(\.path) == ["kind"])
        #expect(kind.first?.mark == YAMLMark(line: 2, column: 7))
        #expect(problems("apiVersion: reel.dev/v1alpha1\nkind: 5\n").first?.message == "must be a string, not integer")
        #expect(problems("- a\n- b\n").first?.message == "a resource must be a mapping, not a sequence")
    }

    @Test func syntaxErrorStillReportsEarlierDocuments() {
        let text =
            videoJob().replacingFirst("priority", with: "x") + "\n  priority: hgh\n---\n" + workerPool()
            + "\n---\napiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {name: [unclosed\n"
        let report = ManifestReport.read(text)
        #expect(report.problems.map(\.path) == ["spec.priority", ""])
        #expect(report.problems.map(\.code) == [.notSupported, .syntax])
        #expect(report.problems.last?.mark.line == 23)  // libyaml finds the unclosed flow at the end of input
        #expect(report.resources.map(\.resource.kind) == ["WorkerPool"])
    }

    @Test func yamlErrorsBecomeProblemsWithPositions() {
        let duplicate = problems("apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nkind: WorkerPool\n")
        #expect(duplicate.first?.code == .syntax)
        #expect(duplicate.first?.mark == YAMLMark(line: 3, column: 1))
        #expect(duplicate.first?.message.contains("duplicate key") == true)
        let tab = problems("apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nspec:\n\tsource: {}\n")
        #expect(tab.first?.mark == YAMLMark(line: 4, column: 1))
    }

    @Test func jsonDocumentsValidateTheSameWay() {
        let json =
            #"{"apiVersion":"reel.dev/v1alpha1","kind":"VideoJob","metadata":{"name":"j"},"#
            + #""spec":{"source":{"uri":"s3://bucket/k"},"priority":"hgh"}}"#
        let found = problems(json)
        #expect(found.map(\.path) == ["spec.priority"])
        #expect(found.first?.mark == YAMLMark(line: 1, column: 129))
    }
}
