import FoundationEssentials
import ReelAPI
import Synchronization

/// How leader election runs: the Lease and the timings of client-go's defaults.
public struct LeaderElectionConfiguration: Sendable {
    public var namespace: String
    public var name: String
    /// This candidate's identity (pod name or host-pid).
    public var identity: String
    /// How long a lease holds without renewal.
    public var leaseDuration: Duration
    /// How long a leader keeps trying to renew before it gives up leading.
    public var renewDeadline: Duration
    /// How often candidates try to acquire and leaders renew.
    public var retryPeriod: Duration

    public init(
        namespace: String, name: String, identity: String, leaseDuration: Duration = .seconds(15),
        renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)
    ) {
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }
}

/// Leader election on a `coordination.k8s.io/v1` Lease: acquire when the lease is free or expired, renew every
/// retry period while leading, stop leading when renewals fail for the renew deadline (or someone else holds
/// the lease), and release the lease on a graceful stop so a successor takes over at once.
public final class LeaderElector: Sendable {
    static let leases = KubeResource(group: "coordination.k8s.io", version: "v1", plural: "leases")

    public let client: KubeClient
    public let configuration: LeaderElectionConfiguration
    private let leading = Mutex(false)
    /// Told why a round failed (a 403 from missing RBAC would otherwise leave a candidate that never leads, in
    /// silence); the candidate keeps trying.
    let onError: @Sendable (any Error) -> Void

    public init(
        client: KubeClient, configuration: LeaderElectionConfiguration,
        onError: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        self.client = client
        self.configuration = configuration
        self.onError = onError
    }

    /// Whether this candidate leads now.
    public var isLeader: Bool { leading.withLock { $0 } }

    /// Campaigns until cancelled; runs `lead` while leading (cancelled when leadership is lost). When `lead`
    /// returns or the task is cancelled, the lease is released.
    public func run(lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            while !Task.isCancelled {
                do {
                    if try await tryAcquireOrRenew() { break }
                } catch  where !Task.isCancelled {
                    onError(error)
                } catch {}
                try? await Task.sleep(for: configuration.retryPeriod * Double.random(in: 1.0...1.2))
            }
            if Task.isCancelled { return }
            leading.withLock { $0 = true }
            let stoppedLeading = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await lead()
                    return true  // the work ended: step down
                }
                group.addTask { [self] in
                    await renewUntilLost()
                    return false
                }
                let first = await group.next() ?? true
                group.cancelAll()
                return first
            }
            leading.withLock { $0 = false }
            if stoppedLeading || Task.isCancelled {
                await release()
                return
            }
        }
    }

    /// Renews every retry period; returns when renewals have failed for the renew deadline, the lease is held by
    /// someone else, or the task is cancelled.
    private func renewUntilLost() async {
        var lastRenew = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.retryPeriod)
            if Task.isCancelled { return }
            do {
                if try await tryAcquireOrRenew() { lastRenew = .now } else { return }
            } catch {
                if ContinuousClock.now - lastRenew > configuration.renewDeadline { return }
            }
        }
    }

    /// One round: `true` when we hold the lease afterwards.
    func tryAcquireOrRenew() async throws -> Bool {
        let now = MicroTime(Date())
        let seconds = Int(configuration.leaseDuration.components.seconds)
        let current: Data
        do {
            current = try await client.get(Self.leases, namespace: configuration.namespace, name: configuration.name)
        } catch let error as KubeError where error.isNotFound {
            let lease = Lease(
                metadata: ObjectMeta(name: configuration.name, namespace: configuration.namespace),
                spec: Lease.Spec(
                    holderIdentity: configuration.identity, leaseDurationSeconds: seconds, acquireTime: now,
                    renewTime: now, leaseTransitions: 0))
            do {
                _ = try await client.create(Self.leases, namespace: configuration.namespace, try KubeClient.body(lease))
                return true
            } catch let error as KubeError where error.isConflict {
                return false
            }
        }
        var lease = try JSONDecoder().decode(Lease.self, from: current)
        let holder = lease.spec.holderIdentity ?? ""
        let renewed = lease.spec.renewTime?.date ?? .distantPast
        let duration = Double(lease.spec.leaseDurationSeconds ?? seconds)
        if !holder.isEmpty && holder != configuration.identity && renewed.addingTimeInterval(duration) > now.date {
            return false  // someone else leads
        }
        if holder != configuration.identity {
            lease.spec.acquireTime = now
            lease.spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + (holder.isEmpty ? 0 : 1)
        }
        lease.spec.holderIdentity = configuration.identity
        lease.spec.leaseDurationSeconds = seconds
        lease.spec.renewTime = now
        do {
            _ = try await client.replace(
                Self.leases, namespace: configuration.namespace, name: configuration.name, try KubeClient.body(lease))
            return true
        } catch let error as KubeError where error.isConflict {
            return false
        }
    }

    /// Gives the lease up (empty holder, expired), so a successor need not wait for it to run out. Best effort:
    /// a lease not released expires by itself.
    func release() async {
        do {
            let current = try await client.get(
                Self.leases, namespace: configuration.namespace, name: configuration.name)
            var lease = try JSONDecoder().decode(Lease.self, from: current)
            guard lease.spec.holderIdentity == configuration.identity else { return }
            lease.spec.holderIdentity = ""
            lease.spec.leaseDurationSeconds = 1
            lease.spec.renewTime = MicroTime(Date().addingTimeInterval(-2))
            _ = try await client.replace(
                Self.leases, namespace: configuration.namespace, name: configuration.name, try KubeClient.body(lease))
        } catch {
            // Cancelled mid-shutdown or the server is gone: the lease runs out on its own.
        }
    }
}
