import ArgumentParser
import Foundation
import ReelAPI
import ReelServer

/// `reel manifests …`: generated Kubernetes manifests.
struct Manifests: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate Kubernetes manifests and the API's OpenAPI document.",
        subcommands: [CRDs.self, OpenAPI.self])

    /// `reel manifests crds`: the CustomResourceDefinitions, generated from the Swift types.
    struct CRDs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crds",
            abstract: "Write the VideoJob and WorkerPool CRDs.",
            discussion: "Writes reel.dev_videojobs.yaml and reel.dev_workerpools.yaml into each output directory.")

        @Option(name: .shortAndLong, help: "Directory to write into (repeatable).")
        var output: [String] = ["crds"]

        @Flag(help: "Print the CRDs as one multi-document stream instead of writing files.")
        var stdout = false

        func run() throws {
            let files = try CRDGenerator.files()
            if stdout {
                print(files.map(\.yaml).joined(separator: "---\n"), terminator: "")
                return
            }
            for directory in output {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                for file in files {
                    let path = (directory as NSString).appendingPathComponent(file.name)
                    try Data(file.yaml.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                    print("wrote \(path)")
                }
            }
        }
    }

    /// `reel manifests openapi`: the REST API's OpenAPI 3.1 document (committed as docs/openapi.json).
    struct OpenAPI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "openapi", abstract: "Write the REST API's OpenAPI 3.1 document.")

        @Option(name: .shortAndLong, help: "File to write (default: standard output).")
        var output: String?

        func run() throws {
            let text = OpenAPIDocument.text + "\n"
            guard let output else {
                print(text, terminator: "")
                return
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            print("wrote \(output)")
        }
    }
}
