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

    /// The API server's objects are decoded from JSON directly: the same rules, paths without positions, and a
    /// JSON string stays a string whatever it looks like.
    @Test func objectsFromJSONDecodeWithoutATextRoundTrip() throws {
        func object(_ spec: [String: JSONValue]) -> JSONValue {
            .object([
                "apiVersion": "reel.dev/v1alpha1", "kind": "VideoJob",
                "metadata": .object(["name": "a", "namespace": "media"]), "spec": .object(spec),
            ])
        }
        guard
            case .resource(.videoJob(let job)) = ResourceDecoder.decode(
                json: object(["source": .object(["uri": "file:///a.mp4"]), "title": "1e3"]))
        else {
            Issue.record("a valid VideoJob did not decode")
            return
        }
        #expect(job.spec.title == "1e3" && job.metadata.namespace == "media")
        guard
            case .invalid(let problems) = ResourceDecoder.decode(
                json: object(["source": .object(["uri": "file:///a.mp4"]), "splitt": .object([:])]))
        else {
            Issue.record("an unknown field was accepted")
            return
        }
        #expect(problems.map(\.path) == ["spec.splitt"])
        #expect(problems.first?.mark == .unknown)
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
