import Logging
import ReelStorage
import ServiceLifecycle

/// Aborts the multipart uploads that killed workers left in an S3 store (their parts cost storage and never
/// become objects): at start, then every `interval`, those begun more than `age` ago. Nothing to do for a
/// file-system store, whose partial files a crash leaves only under names no reader uses.
package struct StorageJanitor: Service {
    let store: S3Store
    var age: Duration = .seconds(24 * 3600)
    var interval: Duration = .seconds(3600)
    let logger: Logger

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let aborted = try await store.abortAbandonedUploads(olderThan: age)
                if aborted > 0 { logger.info("aborted \(aborted) abandoned multipart upload(s) in \(store.baseURI)") }
            } catch {
                logger.warning("cannot clean up abandoned multipart uploads in \(store.baseURI): \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// The janitor a store needs, if any.
    package static func services(for store: any ObjectStore, logger: Logger) -> [ServiceGroupConfiguration
        .ServiceConfiguration]
    {
        guard let s3 = store as? S3Store else { return [] }
        return [.init(service: StorageJanitor(store: s3, logger: logger), successTerminationBehavior: .ignore)]
    }
}
