import Foundation

/// What a finished process left behind.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Standard output split into lines, without the trailing empty one.
    public var lines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

/// Runs programs to completion, capturing their output through files (no pipe can fill up and stall them).
public enum Command {
    /// Runs `executable` with `arguments` in `directory` and waits for it.
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil,
        environment: [String: String]? = nil
    ) async throws -> CommandResult {
        let scratch = try TemporaryDirectory(prefix: "cmd")
        let outPath = scratch.path("stdout"), errPath = scratch.path("stderr")
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil)
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: scratch.url.path]) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        // Awaited through the termination handler: no cooperative thread sits blocked while the program runs.
        let _: Void = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try out.close()
        try err.close()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }
}

/// Where the package and its built `reel` binary are.
public enum ReelPaths {
    /// The package root (the directory holding Package.swift).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `reel` executable built alongside the tests (`REEL_BINARY` overrides).
    public static var reelBinary: String {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            if let explicit = environment["REEL_BINARY"] { return explicit }
            var candidates: [URL] = [Bundle.main.bundleURL.appendingPathComponent("reel")]
            if let argument = CommandLine.arguments.first {
                let dir = URL(fileURLWithPath: argument).deletingLastPathComponent()
                candidates.append(dir.appendingPathComponent("reel"))
                candidates.append(dir.deletingLastPathComponent().appendingPathComponent("reel"))
            }
            candidates.append(packageRoot.appendingPathComponent(".build/debug/reel"))
            for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate.path
            }
            throw CocoaError(
                .fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
        }
    }

    /// Runs the built `reel` with `arguments`.
    public static func reel(_ arguments: [String], in directory: String? = nil) async throws -> CommandResult {
        try await Command.run(try reelBinary, arguments, in: directory ?? packageRoot.path)
    }
}
