import ArgumentParser
import Foundation
import ReelSupport

/// `reel upload FILE…`: resumable uploads to `reel serve` (tus), each becoming a VideoJob, with a progress bar
/// and `--wait` to follow the jobs to their end.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload", abstract: "Upload videos to a Reel server (tus, resumable) and create their jobs.",
        discussion: """
            Each file goes up in chunks (--chunk-size MiB, a SHA-256 checksum each), several files at once. An \
            interrupted run (Ctrl-C, a dropped connection, a crash) resumes where the server stands when run \
            again: the upload's URL is remembered per file under ~/.cache/reel/uploads. Every complete upload is \
            probed by the server and becomes a job (unless --no-job); --wait follows the jobs to their end and \
            exits like `reel local --until-done`: 0 if all succeeded, 1 if any failed, 2 on --timeout.
            """)

    @Argument(help: "Video files to upload.")
    var files: [String]

    @Option(help: "The server's URL (default: $REEL_SERVER or http://127.0.0.1:8080).")
    var server: String?

    @Option(help: "A bearer token of an editor (default: $REEL_TOKEN).")
    var token: String?

    @Option(help: "The job's title (default: the file's name).")
    var title: String?

    @Option(help: "low, normal, high or urgent.")
    var priority: String?

    @Option(help: "Analysis provider: local or gemini.")
    var provider: String?

    @Option(help: "Seconds per chunk of the split.")
    var splitSeconds: Int?

    @Option(help: "Timeline strategy.")
    var strategy: String?

    @Option(help: "Longest timeline, in seconds.")
    var maxSeconds: Int?

    @Flag(help: "Only upload; create no job (name upload://ID in a VideoJob later).")
    var noJob = false

    @Flag(help: "Follow the jobs until they finish.")
    var wait = false

    @Option(help: "With --wait: give up after this many seconds (exit 2).")
    var timeout: Double?

    @Option(help: "MiB per request.")
    var chunkSize = 8

    @Option(help: "Files uploaded at once.")
    var parallel = 2

    @Option(help: ArgumentHelp("Bytes per second per file at most (testing).", visibility: .hidden))
    var limitRate: Int?

    func validate() throws {
        guard chunkSize >= 1, parallel >= 1 else { throw ValidationError("--chunk-size and --parallel must be ≥ 1") }
        if noJob && wait { throw ValidationError("--wait follows jobs; --no-job creates none") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var base = server ?? environment["REEL_SERVER"] ?? "http://127.0.0.1:8080"
        while base.hasSuffix("/") { base.removeLast() }
        guard let token = token ?? environment["REEL_TOKEN"], !token.isEmpty else {
            throw ValidationError("name a token with --token or REEL_TOKEN (reel token create --role editor)")
        }
        var sizes: [Int] = []
        for file in files {
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
            guard let size else { throw CLIFailure("\(file): no such file") }
            guard size > 0 else { throw CLIFailure("\(file): the file is empty") }
            sizes.append(size)
        }
        var client = TusClient(server: base, token: token, cache: .standard())
        client.chunkSize = chunkSize << 20
        client.maxSendSpeed = limitRate
        let progress = UploadProgress(
            files: zip(files, sizes).map { ((($0.0 as NSString).lastPathComponent), $0.1) })
        let drawing = Task { await progress.run() }
        let results = await uploadAll(client, progress: progress)
        drawing.cancel()
        await drawing.value
        var jobs: [String] = []
        var failed = false
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let outcome):
                let resumed = outcome.resumedFrom > 0 ? " (resumed at \(outcome.resumedFrom) bytes)" : ""
                let job = outcome.jobUID.map { ", job \($0)" } ?? ""
                print("\(file): uploaded as \(outcome.url)\(resumed)\(job)")
                if let uid = outcome.jobUID { jobs.append(uid) }
            case .failure(let error):
                failed = true
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            }
        }
        if wait, !jobs.isEmpty {
            let outcome = try await JobWatch(server: base, token: token).follow(jobs, timeout: timeout)
            if outcome != 0 { throw ExitCode(outcome) }
        }
        if failed { throw ExitCode.failure }
    }

    /// Uploads every file, `parallel` at a time; one result per file, in order.
    func uploadAll(_ client: TusClient, progress: UploadProgress) async -> [Result<TusClient.Outcome, any Error>] {
        var results = [Result<TusClient.Outcome, any Error>?](repeating: nil, count: files.count)
        await withTaskGroup(of: (Int, Result<TusClient.Outcome, any Error>).self) { group in
            var next = 0
            func start() {
                guard next < files.count else { return }
                let index = next
                let file = files[index]
                let metadata = metadata(for: file)
                next += 1
                group.addTask {
                    do {
                        let outcome = try await client.upload(file, metadata: metadata) {
                            progress.update(index, bytes: $0)
                        }
                        progress.finish(index, note: outcome.jobUID.map { "done, job \($0.prefix(8))" } ?? "done")
                        return (index, .success(outcome))
                    } catch {
                        progress.finish(index, note: "failed")
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<parallel { start() }
            for await (index, result) in group {
                results[index] = result
                start()
            }
        }
        return results.map { $0! }
    }

    /// `Upload-Metadata`: the file's name and type, and the job options given.
    func metadata(for file: String) -> [String: String] {
        let name = (file as NSString).lastPathComponent
        var values = ["filename": name]
        if let type = MediaTypes.forPath(name) { values["filetype"] = type }
        if noJob { return values }
        values["job"] = "true"
        values["title"] = title
        values["priority"] = priority
        values["provider"] = provider
        values["splitSeconds"] = splitSeconds.map(String.init)
        values["strategy"] = strategy
        values["maxSeconds"] = maxSeconds.map(String.init)
        return values
    }
}
