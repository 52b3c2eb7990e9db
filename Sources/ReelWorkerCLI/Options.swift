import ArgumentParser
import ReelHTTP
import ReelPipeline

/// Where Reel keeps its state and which files it may touch: `reel local`, `reel operator` and `reel worker`.
public struct StoreOptions: ParsableArguments {
    public init() {}

    @Option(
        help: "PostgreSQL: a postgres:// URL or key=value string (default: $REEL_DATABASE_URL; reel local: its own).")
    public var databaseURL: String?

    @Option(
        help: "Object storage: file:///dir or an absolute directory (default: $REEL_STORAGE; reel local: STATE/store).")
    public var storage: String?

    @Option(
        help: ArgumentHelp(
            "A directory file:// sources and outputs may name (repeatable). reel local always allows its resources "
                + "directory and the working directory; a worker without one allows its working directory."))
    public var allowRoot: [String] = []
}

/// The Gemini budgets for jobs that name none, shared by every worker through the database.
public struct GeminiBudgetOptions: ParsableArguments {
    public init() {}

    @Option(help: "Gemini requests per minute per API key, across all workers, for jobs that name no budget.")
    public var geminiRequestsPerMinute: Int?

    @Option(help: "Gemini tokens per minute per API key, across all workers, for jobs that name no budget.")
    public var geminiTokensPerMinute: Int?

    /// The same budgets as `reel worker` arguments.
    public var workerArguments: [String] {
        (geminiRequestsPerMinute.map { ["--gemini-requests-per-minute", "\($0)"] } ?? [])
            + (geminiTokensPerMinute.map { ["--gemini-tokens-per-minute", "\($0)"] } ?? [])
    }
}

/// What sources workers accept (given to the workers `reel local` and `reel operator` start).
public struct SourceOptions: ParsableArguments {
    public init() {}

    @Option(help: "An HTTP source that sends nothing for this many seconds fails its attempt (retried with backoff).")
    public var sourceStallSeconds: Double = 30

    @Option(
        help: ArgumentHelp(
            "A host, address or CIDR HTTP sources may reach although it is loopback, link-local or private "
                + "(repeatable; by default sources reach public addresses only).", valueName: "host-or-cidr"))
    public var allowSourceHost: [String] = []

    @Option(help: "The largest picture a source may have, in pixels (width × height).")
    public var maxPixels = 8192 * 4320

    @Option(help: "The longest source accepted, in seconds.")
    public var maxDurationSeconds = 12 * 3600

    public func validate() throws {
        guard sourceStallSeconds >= 1 else { throw ValidationError("--source-stall-seconds must be at least 1") }
        guard maxPixels > 0, maxDurationSeconds > 0 else {
            throw ValidationError("--max-pixels and --max-duration-seconds must be positive")
        }
        do { _ = try AddressPolicy.parsing(allowSourceHost) } catch let error as HTTPError {
            throw ValidationError("--allow-source-host: \(error.message)")
        }
    }

    /// The pipeline's source settings.
    public func apply(to pipeline: inout PipelineConfiguration) throws {
        pipeline.sourceStallTimeout = .milliseconds(Int(sourceStallSeconds * 1000))
        pipeline.sourceAddresses = try AddressPolicy.parsing(allowSourceHost)
        pipeline.maxPixels = maxPixels
        pipeline.maxDuration = .seconds(maxDurationSeconds)
    }

    /// The same settings as `reel worker` arguments.
    public var workerArguments: [String] {
        [
            "--source-stall-seconds", "\(sourceStallSeconds)", "--max-pixels", "\(maxPixels)",
            "--max-duration-seconds", "\(maxDurationSeconds)",
        ]
            + allowSourceHost.flatMap { ["--allow-source-host", $0] }
    }
}
