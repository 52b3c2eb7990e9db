import Foundation
import ReelAPI
import ReelTestSupport
import Testing
import ReelStore
import ReelSupport

@Suite("reel command line")
struct CLITests {
    @Test func helpListsOnlyImplementedCommands() async throws {
        let result = try await ReelPaths.reel(["--help"])
        #expect(result.status == 0)
        let section = result.stdout.components(separatedBy: "SUBCOMMANDS:\n").last ?? ""
        let listing = section.components(separatedBy: "\n\n").first ?? ""
        let commands = listing.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("  "), !line.hasPrefix("    "), let word = trimmed.split(separator: " ").first else {
                return nil
            }
            return String(word)
        }
        #expect(
            commands == [
                "local", "operator", "worker", "serve", "token", "upload", "get", "describe", "logs", "analyze",
                "validate", "manifests", "migrate", "media", "bench", "version",
            ])
    }

    @Test func versionNamesReelAndEachLibrary() async throws {
        let result = try await ReelPaths.reel(["version"])
        #expect(result.status == 0)
        #expect(result.lines.count == 5)
        #expect(result.lines.first == "reel \(API.reelVersion) (API reel.dev/v1alpha1)")
        for prefix in ["libpq ", "libyaml ", "libcurl/", "libavformat "] {
            #expect(result.lines.contains { $0.hasPrefix(prefix) }, "no \(prefix) line")
        }
    }

    /// Debian's FFmpeg brings ~150 shared libraries (~28 MB of RSS); a command that touches no video must not load
    /// them. glibc's `LD_DEBUG=files` names every library the dynamic loader opens, on stderr.
    @Test func ffmpegIsLoadedOnlyByCommandsThatUseIt() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LD_DEBUG"] = "files"
        func loaded(_ arguments: [String]) async throws -> String {
            let result = try await ProcessRunner.capture(
                try ReelPaths.reelBinary, arguments, in: ReelPaths.packageRoot.path, environment: environment)
            #expect(result.status == 0, "\(arguments): \(result.stderr.suffix(2000))")
            #expect(result.stderr.contains("file=libpq.so.5"), "LD_DEBUG printed nothing: \(result.stderr.prefix(500))")
            return result.stderr
        }
        for arguments in [["--help"], ["validate", "-f", "examples"]] {
            let log = try await loaded(arguments)
            for library in ["libavformat", "libavcodec", "libx265"] {
                #expect(!log.contains("file=\(library)"), "reel \(arguments) loaded \(library)")
            }
        }
        let version = try await loaded(["version"])
        #expect(version.contains("file=libavformat.so."))
        #expect(version.contains("file=libswresample.so."))
    }

    @Test func validExamplesExitZero() async throws {
        let result = try await ReelPaths.reel(["validate", "-f", "examples", "manifests/samples"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("6 resource(s) valid in 5 file(s)"))
    }

    @Test func everyProblemInEveryFileOneLineEach() async throws {
        let dir = try TemporaryDirectory(prefix: "cli")
        try dir.write(
            "jobs/a.yaml",
            """
            apiVersion: reel.dev/v1alpha1
            kind: VideoJob
            metadata:
              name: Keynote
            spec:
              priority: hgh
              source: {uri: "ftp://x"}
            ---
            apiVersion: reel.dev/v1alpha1
            kind: WorkerPool
            metadata: {name: analyze}
            spec:
              stages: [analyze]
              maxReplicas: 200

            """)
        try dir.write(
            "jobs/nested/b.yml",
            "apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {name: ok}\nspec:\n  source: {uri: "
                + "\"s3://bucket/k\"}\n  split: {targetSeconds: 0}\n"
        )
        try dir.write(
            "jobs/c.yaml", "apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata:\n  name: x\n\tspec: {}\n")
        try dir.write("jobs/notes.txt", "not a manifest")
        let good = try dir.write(
            "good.yaml",
            "apiVersion: reel.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: analyze}\nspec: {stages: [split]}\n")

        let result = try await ReelPaths.reel(["validate", "-f", dir.path("jobs"), good], in: dir.url.path)
        #expect(result.status == 1)
        let jobs = dir.path("jobs")
        #expect(
            result.lines == [
                "\(jobs)/a.yaml:4:9: metadata.name: must be a lower-case DNS-1123 subdomain: letters, digits, "
                    + "'-' and '.', starting and ending with a letter or digit",
                "\(jobs)/a.yaml:6:13: spec.priority: unsupported value \"hgh\": must be one of low, normal, "
                    + "high, urgent",
                "\(jobs)/a.yaml:7:17: spec.source.uri: must be a URI with scheme file, s3, http, https or upload",
                "\(jobs)/a.yaml:14:16: spec.maxReplicas: must be at most 100 (is 200)",
                "\(jobs)/c.yaml:5:1: found a tab character that violates indentation (while scanning a plain "
                    + "scalar at 4:9)",
                "\(jobs)/nested/b.yml:6:26: spec.split.targetSeconds: must be at least 1 (is 0)",
            ])
        #expect(result.stderr.contains("6 problem(s) in 4 file(s)"))
    }

    @Test func duplicateResourcesAcrossFilesAreReported() async throws {
        let dir = try TemporaryDirectory(prefix: "cli")
        let pool =
            "apiVersion: reel.dev/v1alpha1\nkind: WorkerPool\nmetadata:\n  name: analyze\nspec: {stages: [split]}\n"
        let a = try dir.write("a.yaml", pool)
        let b = try dir.write("b.yaml", "# same pool again\n" + pool)
        let result = try await ReelPaths.reel(["validate", "-f", a, b])
        #expect(result.status == 1)
        #expect(
            result.lines == [
                "\(b):5:9: metadata.name: duplicate WorkerPool default/analyze (first declared at \(a):4:9)"
            ])
    }

    @Test func missingFilesAndEmptyDirectoriesAreProblems() async throws {
        let dir = try TemporaryDirectory(prefix: "cli")
        let missing = try await ReelPaths.reel(["validate", "-f", dir.path("nope.yaml")])
        #expect(missing.status == 1)
        #expect(missing.lines == ["\(dir.path("nope.yaml")): no such file or directory"])
        let empty = try await ReelPaths.reel(["validate", "-f", dir.url.path])
        #expect(empty.status == 1)
        #expect(empty.lines.first?.hasSuffix("no .yaml or .yml files found") == true)
        let usage = try await ReelPaths.reel(["validate"])
        #expect(usage.status != 0 && usage.status != 1)
    }

    @Test func manifestsCRDsWritesTheCommittedFiles() async throws {
        let dir = try TemporaryDirectory(prefix: "crds")
        let result = try await ReelPaths.reel([
            "manifests", "crds", "--output", dir.path("a"), "--output", dir.path("b"),
        ])
        #expect(result.status == 0, "\(result.stderr)")
        for sub in ["a", "b"] {
            for name in ["reel.dev_videojobs.yaml", "reel.dev_workerpools.yaml"] {
                let written = try String(contentsOfFile: dir.path("\(sub)/\(name)"), encoding: .utf8)
                let committed = try String(
                    contentsOf: ReelPaths.packageRoot.appendingPathComponent("crds/\(name)"), encoding: .utf8)
                #expect(written == committed)
            }
        }
        let stdout = try await ReelPaths.reel(["manifests", "crds", "--stdout"])
        #expect(stdout.stdout.components(separatedBy: "\n---\n").count == 2)
    }

    @Test func migrateAppliesOnceThenReportsUpToDate() async throws {
        let url = try await TestPostgres.database("climigrate")
        let first = try await ReelPaths.reel(["migrate", "--database-url", url])
        #expect(first.status == 0, "\(first.stderr)")
        let versions = Migrator.all.map { String($0.version) }.joined(separator: ", ")
        #expect(first.lines == ["applied migrations \(versions)"])
        #expect(Migrator.all.map(\.version) == Array(1...Migrator.all.count), "numbered from 1, none skipped")
        let second = try await ReelPaths.reel(["migrate", "--database-url", url])
        #expect(second.lines == ["schema is up to date"])
        let missing = try await ReelPaths.reel([
            "migrate", "--database-url", "host=/nonexistent user=postgres connect_timeout=2",
        ])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("connectionFailed"))
    }

    /// Something not found is a failure of the run, not of the command line: the message and exit status 1,
    /// without the usage text (it used to print "Usage: reel <subcommand>" and exit 64).
    @Test func notFoundIsARuntimeFailureWithoutUsage() async throws {
        let url = try await TestPostgres.migratedDatabase("clinotfound")
        for arguments in [["describe", "videojob", "nope"], ["get", "videojobs", "nope"], ["logs", "nope"]] {
            let result = try await ReelPaths.reel(arguments + ["--database-url", url])
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("\"nope\""), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Usage"), "\(arguments): \(result.stderr)")
        }
    }

    /// Reading a directory with no state used to create a 47 MB PostgreSQL cluster there and print "No videojobs
    /// found."; now it says there is no state, exits 1, and leaves the directory as it was.
    @Test func readingADirectoryWithoutStateSaysSoAndCreatesNothing() async throws {
        let directory = try TemporaryDirectory(prefix: "nostate")
        for arguments in [["get", "vj"], ["describe", "vj", "talk"], ["logs", "talk"]] {
            let result = try await ReelPaths.reel(arguments + ["--state", directory.path("state")])
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("there is no Reel state in \(directory.path("state"))"), "\(result.stderr)")
            #expect(!result.stderr.contains("Usage"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("state")))
    }

    @Test func benchQueuePrintsTheDocumentedJSON() async throws {
        let url = try await TestPostgres.database("clibench")
        let result = try await ReelPaths.reel([
            "bench", "queue", "--tasks", "600", "--workers", "4", "--batch", "50", "--database-url", url, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "tasks", "workers", "completed", "duplicates", "enqueue_per_sec", "burn_down_per_sec",
                "claim_latency_ms", "wake_latency_ms",
            ])
        #expect(object["completed"] as? Int == 600)
        #expect(object["duplicates"] as? Int == 0)
        #expect((object["wake_latency_ms"] as? [String: Double])?.keys.sorted() == ["p50", "p99"])
    }

    @Test func mediaCommandsPrintTheDocumentedJSON() async throws {
        let dir = try TemporaryDirectory(prefix: "climedia")
        let sample = try await SampleMedia.sample(in: dir, seconds: 6)
        func object(_ result: ProcessRunner.Captured) throws -> [String: Any] {
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        let probe = try object(try await ReelPaths.reel(["media", "probe", sample, "--json"]))
        #expect((probe["streams"] as? [[String: Any]])?.count == 2)
        let split = try object(
            try await ReelPaths.reel([
                "media", "split", sample, "--target-seconds", "2", "--out", dir.path("c"), "--json",
            ]))
        let chunks = try #require(split["chunks"] as? [[String: Any]])
        #expect(chunks.count == 3)
        #expect(Set(chunks[0].keys) == ["index", "path", "start", "duration", "bytes"])
        let scenes = try object(try await ReelPaths.reel(["media", "scenes", sample, "--json"]))
        #expect((scenes["cuts"] as? [[String: Any]])?.compactMap { $0["time"] as? Double } == [2, 4])
        #expect(
            (scenes["scenes"] as? [[String: Any]])?.first.map { Set($0.keys) } == [
                "start", "end", "meanLuma", "motion",
            ])
        let render = try await ReelPaths.reel([
            "media", "render", "--cut", "\(sample):0:1", "--cut", "\(sample):4:5", "--out", dir.path("r.mp4"),
        ])
        #expect(render.status == 0, "\(render.stderr)")
        let bad = try await ReelPaths.reel(["media", "probe", dir.path("missing.mp4")])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("notFound"))
        let badCut = try await ReelPaths.reel(["media", "render", "--cut", "nocolons", "--out", dir.path("x.mp4")])
        #expect(badCut.status != 0)
        #expect(badCut.stderr.contains("expected FILE:START:END"))
    }
}
