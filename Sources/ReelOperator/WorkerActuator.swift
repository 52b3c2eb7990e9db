import FoundationEssentials
import ReelStore
import ReelSupport

/// Makes a pool's worker count real: child processes (`ProcessActuator`) or a Deployment per pool
/// (`DeploymentActuator`). The autoscaler decides the numbers; an actuator only carries them out.
public protocol WorkerActuator: Sendable {
    /// Signalled when something the autoscaler should look at again happened (a child exited).
    var exited: WakeSignal { get }
    /// Workers of `pool` running or asked to run (not counting those told to stop).
    func replicas(_ pool: String) -> Int
    /// When `pool` last changed size.
    func lastScale(_ pool: String) -> Date?
    /// Whether `pool` is waiting out a crash backoff.
    func inCrashBackoff(_ pool: String) -> Bool
    /// Brings `pool` to `replicas` workers; background work (reapers) goes into `group`.
    func scale(_ pool: PoolSizing, to replicas: Int, group: inout DiscardingTaskGroup) async throws
    /// Whether workers keep running after the operator stops (Deployments do; child processes do not).
    var workersOutliveOperator: Bool { get }
    /// Stops every worker (only called when they do not outlive the operator).
    func stopAll() async
    /// Removes the workers of pools that no longer exist (a default pool whose stage a declared pool now covers,
    /// a deleted pool).
    func retire(except pools: [PoolSizing], group: inout DiscardingTaskGroup) async throws
}
