import FoundationEssentials
import Logging
import ReelSupport
import ReelOperator

#if canImport(Glibc)
    import Glibc
#endif

/// A worker child's executable and the arguments that come before its options: `reel-worker` and none, or `reel`
/// and `worker`.
public struct WorkerProgram: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
}

/// Worker child processes, as `reel local` and `reel operator --worker-runtime process` start them.
package enum ChildWorkers {
    /// Neither `reel-worker` beside `reel` nor `reel` itself can be run.
    package struct MissingWorkerProgram: Error, CustomStringConvertible {
        package var directory: String
        package var description: String {
            """
            process workers need reel-worker or reel in \(directory), and neither is there: install them beside \
            reel-operator (as the image and `swift build` do), or run workers as pods (--worker-runtime kubernetes)
            """
        }
    }

    /// What runs a worker for `reel`: `reel-worker` from the same directory when it is there (what `reel worker`
    /// would exec into anyway, started without first loading `reel`), else `reel worker`.
    package static func program(beside reel: String) throws(MissingWorkerProgram) -> WorkerProgram {
        let directory = Paths.deletingLastComponent(reel)
        let sibling = Paths.appending(directory, "reel-worker")
        if access(sibling, X_OK) == 0 { return WorkerProgram(executable: sibling, arguments: []) }
        guard access(reel, X_OK) == 0 else { throw MissingWorkerProgram(directory: directory) }
        return WorkerProgram(executable: reel, arguments: ["worker"])
    }

    /// A process actuator whose workers (`program`) use this database, storage and roots, keep their logs in
    /// `STATE/logs` and their scratch files in `STATE/scratch`, and exit when this process dies.
    package static func actuator(
        program: WorkerProgram, databaseURL: String, storage: String, state: String, roots: [String], lease: Duration,
        grace: Duration, extra: [String], logger: Logger
    ) -> ProcessActuator {
        let arguments =
            program.arguments + [
                "--database-url", databaseURL, "--storage", storage, "--parent-pid", "\(getpid())",
                "--lease-seconds", "\(lease.seconds)", "--drain-seconds", "\(max(1, grace.seconds - 5))",
                "--scratch", "\(state)/scratch",
            ] + roots.flatMap { ["--allow-root", $0] } + extra
        return ProcessActuator(
            command: WorkerCommand(
                executable: program.executable, arguments: arguments, logDirectory: "\(state)/logs",
                gracePeriod: grace),
            logger: logger)
    }

    /// How often the autoscaler looks for expired leases: half a lease, at least half a second.
    package static func rescueInterval(lease: Duration) -> Duration { max(.milliseconds(500), lease / 2) }
}
