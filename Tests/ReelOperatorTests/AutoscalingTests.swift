import Foundation
import ReelAPI
import Testing

@testable import ReelOperator

@Suite struct AutoscalingTests {
    let pool = PoolSizing(
        name: "analyze", stages: [.analyze], minReplicas: 0, maxReplicas: 3, tasksPerReplica: 4, scaleDownDelay: 60)

    @Test(arguments: [(0, 0), (1, 1), (4, 1), (5, 2), (12, 3), (100, 3)])
    func desiredIsCeilOfDepthOverTasksPerReplicaClamped(depth: Int, expected: Int) {
        #expect(Autoscaling.desired(depth: depth, pool: pool) == expected)
    }

    @Test func minReplicasHoldsEvenWhenIdle() {
        var warm = pool
        warm.minReplicas = 1
        #expect(Autoscaling.desired(depth: 0, pool: warm) == 1)
    }

    @Test func scalesUpAtOnceAndDownOnlyAfterTheDelay() {
        let t0 = Date(timeIntervalSince1970: 0)
        var history: [(at: Date, replicas: Int)] = [(t0, 3)]
        #expect(Autoscaling.target(current: 1, desired: 3, recommendations: history, now: t0, delay: 60) == 3)
        history.append((t0.addingTimeInterval(10), 0))
        #expect(
            Autoscaling.target(
                current: 3, desired: 0, recommendations: history, now: t0.addingTimeInterval(10), delay: 60) == 3)
        history.append((t0.addingTimeInterval(59), 1))
        #expect(
            Autoscaling.target(
                current: 3, desired: 1, recommendations: history, now: t0.addingTimeInterval(59), delay: 60) == 3)
        let pruned =
            Autoscaling.prune(history, now: t0.addingTimeInterval(65), delay: 60) + [(t0.addingTimeInterval(65), 0)]
        #expect(
            Autoscaling.target(
                current: 3, desired: 0, recommendations: pruned, now: t0.addingTimeInterval(65), delay: 60) == 1)
        let later =
            Autoscaling.prune(pruned, now: t0.addingTimeInterval(130), delay: 60) + [(t0.addingTimeInterval(130), 0)]
        #expect(
            Autoscaling.target(
                current: 1, desired: 0, recommendations: later, now: t0.addingTimeInterval(130), delay: 60) == 0)
    }

    @Test func defaultPoolsCoverTheStagesNoDeclaredPoolDoes() {
        let declared = WorkerPool(
            metadata: ObjectMeta(name: "media"), spec: WorkerPoolSpec(stages: [.ingest, .split], maxReplicas: 2))
        let pools = PoolSizing.effective(declared: [declared])
        #expect(pools.map(\.name) == ["media", "analyze", "assemble", "render"])
        #expect(pools.first { $0.name == "analyze" }?.maxReplicas == 3)
        #expect(PoolSizing.effective(declared: []).map(\.maxReplicas) == [3, 4, 3, 2, 2])
    }

    @Test func crashBackoffDoublesToThirtySeconds() {
        #expect([0, 1, 2, 3, 6, 10].map(Autoscaling.crashBackoff) == [0, 1, 2, 4, 30, 30])
    }

    @Test func workQueueHandsOutAKeyOnceAndRequeuesItWhenAddedWhileBusy() async {
        let queue = WorkQueue<String>()
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.depth == 2)
        let first = await queue.next()
        #expect(first == "a")
        await queue.add("a")  // while processing: comes back after done
        #expect(await queue.next() == "b")
        #expect(await queue.depth == 0)
        await queue.done("a")
        #expect(await queue.next() == "a")
        #expect(await queue.backoff(for: "a") == .milliseconds(100))
        #expect(await queue.backoff(for: "a") == .milliseconds(200))
    }
}
