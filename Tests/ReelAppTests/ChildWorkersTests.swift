import ArgumentParser
import Foundation
import Logging
import ReelTestSupport
import Testing

@testable import ReelOperatorApp

/// What runs a process worker: `reel-worker` beside `reel` when it is there, `reel worker` otherwise, and a clear
/// refusal at start when neither is (a `reel-operator` copied somewhere alone).
@Suite struct ChildWorkersTests {
    static func executable(_ directory: TemporaryDirectory, _ name: String, mode: Int16 = 0o755) throws -> String {
        let path = try directory.write(name, "#!/bin/sh\nexit 0\n")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test func reelWorkerBesideReelRunsTheWorkerItselfOtherwiseReelWorkerDoes() throws {
        let directory = try TemporaryDirectory(prefix: "child-workers")
        let reel = try Self.executable(directory, "reel")
        #expect(try ChildWorkers.program(beside: reel) == WorkerProgram(executable: reel, arguments: ["worker"]))
        // Not executable: not a program to run.
        let sibling = try Self.executable(directory, "reel-worker", mode: 0o644)
        #expect(try ChildWorkers.program(beside: reel) == WorkerProgram(executable: reel, arguments: ["worker"]))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sibling)
        let program = try ChildWorkers.program(beside: reel)
        #expect(program == WorkerProgram(executable: sibling, arguments: []))
        // `reel` itself need not be there when `reel-worker` is (reel-operator and reel-worker installed alone).
        try FileManager.default.removeItem(atPath: reel)
        #expect(try ChildWorkers.program(beside: reel) == program)

        // The pool's workers get the worker's options right after the program's own arguments.
        let actuator = ChildWorkers.actuator(
            program: WorkerProgram(executable: reel, arguments: ["worker"]), databaseURL: "postgres://db",
            storage: "file:///store", state: directory.path("state"), roots: ["/media"], lease: .seconds(30),
            grace: .seconds(10), extra: ["--gemini-max-usd", "1"], logger: Logger(label: "test"))
        #expect(actuator.command.executable == reel)
        #expect(actuator.command.arguments.prefix(3) == ["worker", "--database-url", "postgres://db"])
        #expect(actuator.command.arguments.suffix(4) == ["--allow-root", "/media", "--gemini-max-usd", "1"])
    }

    @Test func anOperatorWithNoWorkerProgramBesideItRefusesToStartAndSaysWhere() async throws {
        let directory = try TemporaryDirectory(prefix: "child-workers-none")
        let kubeconfig = try directory.write(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            current-context: c
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: c, context: {cluster: c, user: u}}]
            """)
        let options = try OperatorOptions.parse([
            "--database-url", "postgres://127.0.0.1:1/reel", "--storage", "file://\(directory.path("store"))",
            "--kubeconfig", kubeconfig, "--state", directory.path("state"),
        ])
        let lonely = directory.path("bin/reel")
        do {
            _ = try await options.settings(workerExecutable: lonely)
            Issue.record("settings resolved with no worker program in \(directory.path("bin"))")
        } catch let error as ValidationError {
            #expect(error.message.contains("need reel-worker or reel in \(directory.path("bin"))"), "\(error)")
            #expect(error.message.contains("--worker-runtime kubernetes"), "\(error)")
        }
        // Pods need no program here.
        let pods = try OperatorOptions.parse([
            "--database-url", "postgres://127.0.0.1:1/reel", "--storage", "file://\(directory.path("store"))",
            "--kubeconfig", kubeconfig, "--worker-runtime", "kubernetes",
        ])
        _ = try await pods.settings(workerExecutable: lonely)
    }
}
