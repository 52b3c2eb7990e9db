import ArgumentParser
import Foundation
import ReelAPI

/// `reel validate -f PATH…`: every problem of every resource in the given files and directories.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate VideoJob and WorkerPool manifests.",
        discussion: """
            Reads .yaml/.yml files (multi-document), and directories recursively. Prints one line per problem, \
            FILE:LINE:COLUMN: FIELD.PATH: message, for every problem in every file. Exits 0 when everything is \
            valid and 1 otherwise. Documents of other API groups are passed over.
            """)

    @Option(
        name: [.short, .customLong("filename")], parsing: .upToNextOption,
        help: ArgumentHelp("Files or directories to validate.", valueName: "path"))
    var files: [String]

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file or directory with -f") }
    }

    func run() throws {
        var lines: [String] = []
        var resourceCount = 0
        var foreignCount = 0
        var seen: [String: String] = [:]  // kind/namespace/name → where first declared
        let paths = ManifestFiles.expand(files)
        for path in paths.files {
            guard let data = FileManager.default.contents(atPath: path) else {
                lines.append("\(path): cannot read the file")
                continue
            }
            let report = ManifestReport.read(bytes: Array(data))
            lines += report.problems.map { $0.formatted(file: path) }
            foreignCount += report.foreign.count
            for entry in report.resources {
                resourceCount += 1
                let meta = entry.resource.metadata
                let key = "\(entry.resource.kind) \(meta.effectiveNamespace)/\(meta.name)"
                let here = "\(path):\(entry.nameMark)"
                if let first = seen[key] {
                    lines.append("\(here): metadata.name: duplicate \(key) (first declared at \(first))")
                } else {
                    seen[key] = here
                }
            }
        }
        lines += paths.missing.map { "\($0): no such file or directory" }
        if paths.files.isEmpty, paths.missing.isEmpty {
            lines.append("\(files.joined(separator: " ")): no .yaml or .yml files found")
        }
        for line in lines { print(line) }
        let summary =
            lines.isEmpty
            ? "\(resourceCount) resource(s) valid in \(paths.files.count) file(s)"
            : "\(lines.count) problem(s) in \(paths.files.count) file(s)"
        if !quiet || !lines.isEmpty {
            let skipped = foreignCount > 0 ? "; \(foreignCount) document(s) of other API groups passed over" : ""
            FileHandle.standardError.write(Data((summary + skipped + "\n").utf8))
        }
        if !lines.isEmpty { throw ExitCode(1) }
    }
}

/// Expands files and directories into the manifest files to read.
enum ManifestFiles {
    static func expand(_ paths: [String]) -> (files: [String], missing: [String]) {
        var files: [String] = []
        var missing: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                missing.append(path)
                continue
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let found = (fm.enumerator(atPath: path)?.compactMap { $0 as? String } ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }
                .sorted()
            let base = path.hasSuffix("/") ? String(path.dropLast()) : path
            files += found.map { "\(base)/\($0)" }
        }
        return (files, missing)
    }
}
