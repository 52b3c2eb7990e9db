import FoundationEssentials
import ReelAPI

#if canImport(Glibc)
    import Glibc
#endif

/// How a worker runs. Every field has a default except the stages it works on.
public struct WorkerConfiguration: Sendable {
    /// Unique id, also the lease owner: `<host>-<pid>-<random>` by default.
    public var id: String
    public var stages: [Stage]
    /// Tasks run at once (ingest tasks aside).
    public var concurrency: Int
    /// Ingest tasks run at once, beside the others: a download waits on the network, not on this machine, so a
    /// source that stalls must not hold the worker's only slot while other jobs wait.
    public var ingestConcurrency: Int
    /// Lease length; renewed every third of it while a task runs.
    public var lease: Duration
    /// How often the queue is polled when no NOTIFY arrives.
    public var pollInterval: Duration
    /// How long a graceful shutdown waits for running tasks before releasing them.
    public var drainTimeout: Duration
    /// The WorkerPool this worker belongs to, if any.
    public var pool: String?
    /// Stop (gracefully) when this process is no longer our parent: children of a killed `reel local`.
    public var parentPID: Int32?

    public init(
        stages: [Stage], concurrency: Int = 1, ingestConcurrency: Int = 4, lease: Duration = .seconds(30),
        pollInterval: Duration = .seconds(1), drainTimeout: Duration = .seconds(25), pool: String? = nil,
        parentPID: Int32? = nil, id: String? = nil
    ) {
        self.stages = stages
        self.concurrency = max(1, concurrency)
        self.ingestConcurrency = max(1, ingestConcurrency)
        self.lease = lease
        self.pollInterval = pollInterval
        self.drainTimeout = drainTimeout
        self.pool = pool
        self.parentPID = parentPID
        let host = WorkerConfiguration.hostname.split(separator: ".").first.map(String.init) ?? "host"
        self.id = id ?? "\(host)-\(getpid())-\(UUID().uuidString.prefix(6).lowercased())"
    }
}

extension WorkerConfiguration {
    /// The kernel's host name. (Foundation's `ProcessInfo.hostName` resolves it through DNS, which can stall for
    /// many seconds on a machine without a resolver.)
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
