import ArgumentParser
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

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
        if CommandLine.arguments.dropFirst().first == "worker" { SiblingHandOff.exec("reel-worker") }
        await main(nil)
    }
}

/// `reel worker` runs as `reel-worker`, and `reel operator` without `--api-addr` as `reel-operator`, when that
/// executable sits beside `reel` (the image and `swift build` install all three): the same options and work,
/// without the rest of Reel and Foundation in memory, in the same process (`execv` keeps the PID that `reel local`
/// and Kubernetes watch). Without it, `reel` runs the command itself.
enum SiblingHandOff {
    /// Replaces this process with `name` from `reel`'s directory, given the arguments after the subcommand;
    /// returns only if that cannot be done.
    static func exec(_ name: String) {
        #if os(Linux)
            var buffer = [CChar](repeating: 0, count: 4096)
            let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            guard length > 0 else { return }
            let own = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let slash = own.lastIndex(of: "/") else { return }
            let sibling = String(own[...slash]) + name
            guard access(sibling, X_OK) == 0 else { return }
            let arguments = [sibling] + CommandLine.arguments.dropFirst(2)
            var pointers = arguments.map { strdup($0) }
            pointers.append(nil)
            execv(sibling, pointers)
            // Still here: it could not be run; `reel` runs the command itself.
            pointers.forEach { free($0) }
        #endif
    }
}
