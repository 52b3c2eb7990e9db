import Foundation
import ReelAPI
import ReelTestSupport
import ReelYAML
import Testing

@Suite("Generated CRDs")
struct CRDTests {
    /// The committed CRDs are exactly what `reel manifests crds` generates (fix with `hack/generate.sh`).
    @Test(arguments: ["crds", "charts/reel/crds", "manifests/base/crds"])
    func noDrift(directory: String) throws {
        let root = ReelPaths.packageRoot.appendingPathComponent(directory)
        let committed = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".yaml") }
        let generated = try CRDGenerator.files()
        #expect(committed.sorted() == generated.map(\.name).sorted(), "run hack/generate.sh")
        for file in generated {
            let text = try String(contentsOf: root.appendingPathComponent(file.name), encoding: .utf8)
            #expect(text == file.yaml, "\(directory)/\(file.name) drifted from the Swift types: run hack/generate.sh")
        }
    }

    @Test func videoJobCRDShape() throws {
        let crd = CRDGenerator.crd(VideoJob.self)
        #expect(crd["spec"]?["names"]?["shortNames"] == ["vj"])
        #expect(crd["spec"]?["names"]?["categories"] == ["reel"])
        #expect(crd["spec"]?["scope"] == "Namespaced")
        let version = try #require(crd["spec"]?["versions"]?.items?.first)
        #expect(version["subresources"]?["status"] == YAMLNode(.mapping([])))
        let columns = version["additionalPrinterColumns"]?.items?.map { $0["name"]?.string ?? "" }
        #expect(columns?.prefix(3) == ["Phase", "Progress", "Chunks"])
        #expect(columns?.last == "Age")
        let schema = try #require(version["schema"]?["openAPIV3Schema"])
        #expect(schema["required"] == ["spec"])
        let spec = try #require(schema["properties"]?["spec"])
        #expect(spec["required"] == ["source"])
        let props = try #require(spec["properties"])
        #expect(props["priority"]?["enum"] == ["low", "normal", "high", "urgent"])
        #expect(props["priority"]?["default"] == "normal")
        #expect(props["split"]?["default"] == YAMLNode(.mapping([])))
        #expect(props["split"]?["properties"]?["targetSeconds"]?["minimum"] == 1)
        #expect(props["split"]?["properties"]?["targetSeconds"]?["maximum"] == 3600)
        #expect(props["split"]?["properties"]?["targetSeconds"]?["default"] == 60)
        #expect(props["source"]?["properties"]?["uri"]?["pattern"] == .init(.string(Patterns.sourceURI)))
        let conditions = try #require(schema["properties"]?["status"]?["properties"]?["conditions"])
        #expect(conditions["x-kubernetes-list-type"] == "map")
        #expect(conditions["x-kubernetes-list-map-keys"] == ["type"])
    }

    /// Kubernetes 1.20 has no CEL, and a structural schema gives every node a type (or preserves unknown
    /// fields) and never uses the keywords structural schemas forbid.
    @Test(arguments: [CRDGenerator.crd(VideoJob.self), CRDGenerator.crd(WorkerPool.self)])
    func structuralAndCELFree(crd: YAMLNode) throws {
        let schema = try #require(crd["spec"]?["versions"]?.items?.first?["schema"]?["openAPIV3Schema"])
        // The API server refuses a CRD whose schema says anything of metadata but its type.
        #expect(schema["properties"]?["metadata"] == ["type": "object"])
        var visited = 0
        func walk(_ node: YAMLNode, _ path: String) {
            visited += 1
            let keys = Set(node.pairs?.compactMap { $0.key.string } ?? [])
            #expect(
                keys.contains("type") || keys.contains("x-kubernetes-preserve-unknown-fields"), "\(path) has no type")
            for forbidden in [
                "x-kubernetes-validations", "uniqueItems", "$ref", "allOf", "oneOf", "anyOf", "not", "additionalItems",
            ] {
                #expect(!keys.contains(forbidden), "\(path) uses \(forbidden)")
            }
            for pair in node["properties"]?.pairs ?? [] { walk(pair.value, "\(path).\(pair.key.string ?? "")") }
            if let items = node["items"] { walk(items, "\(path)[]") }
            if let additional = node["additionalProperties"] { walk(additional, "\(path){}") }
        }
        walk(schema, "")
        #expect(visited > 20)
    }

    /// Every manifest shipped as an example or sample is valid.
    @Test(arguments: ["examples", "manifests/samples"])
    func shippedManifestsAreValid(directory: String) throws {
        let root = ReelPaths.packageRoot.appendingPathComponent(directory)
        let files = (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        for file in files {
            let data = try Data(contentsOf: root.appendingPathComponent(file))
            let report = ManifestReport.read(bytes: Array(data))
            #expect(report.problems.isEmpty, "\(directory)/\(file): \(report.problems)")
            #expect(!report.resources.isEmpty, "\(directory)/\(file) holds no resource")
        }
    }
}
