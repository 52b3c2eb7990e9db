import FoundationEssentials
import Logging
import ReelSupport
import ReelOperator

#if canImport(Glibc)
    import Glibc
#endif

/// `reel worker` child processes, as `reel local` and `reel operator --worker-runtime process` start them.
package enum ChildWorkers {
    /// A process actuator whose workers use this database, storage and roots, keep their logs in `STATE/logs`
    /// and their scratch files in `STATE/scratch`, and exit when this process dies.
    package static func actuator(
        executable: String, databaseURL: String, storage: String, state: String, roots: [String], lease: Duration,
        grace: Duration, extra: [String], logger: Logger
    ) -> ProcessActuator {
        let arguments =
            [
                "worker", "--database-url", databaseURL, "--storage", storage, "--parent-pid", "\(getpid())",
                "--lease-seconds", "\(lease.seconds)", "--drain-seconds", "\(max(1, grace.seconds - 5))",
                "--scratch", "\(state)/scratch",
            ] + roots.flatMap { ["--allow-root", $0] } + extra
        return ProcessActuator(
            command: WorkerCommand(
                executable: executable, arguments: arguments, logDirectory: "\(state)/logs", gracePeriod: grace),
            logger: logger)
    }

    /// How often the autoscaler looks for expired leases: half a lease, at least half a second.
    package static func rescueInterval(lease: Duration) -> Duration { max(.milliseconds(500), lease / 2) }
}
