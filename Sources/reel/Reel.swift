import ArgumentParser
import ReelSupport

/// The `reel` command line. Thin: each command parses its flags and calls the library.
@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Reel processes videos declared as Kubernetes-style resources.",
        discussion: "Resources: VideoJob (vj) and WorkerPool (wp), API version reel.dev/v1alpha1.",
        subcommands: [
            Local.self, OperatorCLI.self, WorkerCLI.self, Serve.self, TokenCommand.self, UploadCommand.self, Get.self,
            Describe.self,
            Logs.self, Analyze.self,
            Validate.self, Manifests.self, Migrate.self,
            Media.self, Bench.self, Version.self,
        ])

    static func main() async {
        MallocArenas.limit()
        await main(nil)
    }
}
