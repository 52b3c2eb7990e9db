import Foundation
import Logging
import ReelKube
import ReelTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import ReelOperator

/// What the controller does with its services' errors.
@Suite struct ControllerTests {
    struct Broken: Error, Equatable {}

    /// A leader service that fails.
    struct FailingService: Service {
        func run() async throws { throw Broken() }
    }

    /// A leader service that runs until it is cancelled.
    struct IdleService: Service {
        func run() async throws { try await Task.sleep(for: .seconds(3600)) }
    }

    /// A reconciler or autoscaler that fails ends the controller with its error (and the operator exits to be
    /// restarted). The controller used to drop the error and keep the caches running: a leader that did nothing.
    @Test func aFailingLeaderServiceEndsTheControllerWithItsError() async throws {
        // Nothing listens on port 1: the caches retry quietly, as they would against an API server that is down.
        let client = KubeClient(connection: KubeConnection(server: "https://127.0.0.1:1"))
        let backend = KubernetesBackend(
            client: client, namespace: "default", events: nil, logger: TestPostgres.logger, onChange: { _ in })
        let controller = Controller(
            backend: backend, leaderServices: [IdleService(), FailingService()], elector: nil,
            logger: TestPostgres.logger)
        let done = Done()
        let outcome = Task {
            defer { done.flag.withLock { $0 = true } }
            try await controller.run()
        }
        let ended = try await BackgroundProcess.eventually(timeout: .seconds(60)) { done.flag.withLock { $0 } }
        if !ended { outcome.cancel() }
        #expect(ended, "the controller kept running after a leader service failed")
        await #expect(throws: Broken()) { try await outcome.value }
    }

    final class Done: Sendable {
        let flag = Mutex(false)
    }
}
