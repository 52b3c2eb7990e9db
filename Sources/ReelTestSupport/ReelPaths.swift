import Foundation
import ReelSupport

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
    public static func reel(_ arguments: [String], in directory: String? = nil) async throws -> ProcessRunner.Captured {
        try await ProcessRunner.capture(try reelBinary, arguments, in: directory ?? packageRoot.path)
    }
}
