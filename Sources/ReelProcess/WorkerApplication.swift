import Logging
import ReelPipeline
import ReelStore

/// What `reel worker` runs on: where the work is kept, how stages run, and which tasks this worker takes.
public struct WorkerSettings: Sendable {
    public var databaseURL: String
    public var storage: String
    public var pipeline: PipelineConfiguration
    public var worker: WorkerConfiguration

    public init(
        databaseURL: String, storage: String, pipeline: PipelineConfiguration, worker: WorkerConfiguration
    ) {
        self.databaseURL = databaseURL
        self.storage = storage
        self.pipeline = pipeline
        self.worker = worker
    }
}

extension ReelApplication {
    /// Builds `reel worker`: the store, a migrated database with a connection per task slot (and three for
    /// leases, heartbeats and logs), the pipeline, and the worker that claims tasks of its stages.
    public static func worker(_ settings: WorkerSettings, logger: Logger) async throws -> ReelApplication {
        let (database, store) = try await open(
            databaseURL: settings.databaseURL, storage: settings.storage,
            scratch: settings.pipeline.scratchDirectory,
            connections: settings.worker.concurrency + settings.worker.ingestConcurrency + 3, logger: logger)
        let pipeline = Pipeline(database: database, store: store, configuration: settings.pipeline)
        let worker = Worker(
            configuration: settings.worker, queue: database.queue(), pipeline: pipeline, logger: logger)
        return ReelApplication(services: [.init(service: worker)], logger: logger) { await database.close() }
    }
}
