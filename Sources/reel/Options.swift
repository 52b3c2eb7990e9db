import ArgumentParser

/// Where Reel keeps its state and which files it may touch: `reel local`, `reel operator` and `reel worker`.
struct StoreOptions: ParsableArguments {
    @Option(
        help: "PostgreSQL: a postgres:// URL or key=value string (default: $REEL_DATABASE_URL; reel local: its own).")
    var databaseURL: String?

    @Option(
        help: "Object storage: file:///dir or an absolute directory (default: $REEL_STORAGE; reel local: STATE/store).")
    var storage: String?

    @Option(
        help: ArgumentHelp(
            "A directory file:// sources and outputs may name (repeatable). reel local always allows its resources "
                + "directory and the working directory; a worker without one allows its working directory."))
    var allowRoot: [String] = []
}

/// The Gemini budgets for jobs that name none, shared by every worker through the database.
struct GeminiBudgetOptions: ParsableArguments {
    @Option(help: "Gemini requests per minute per API key, across all workers, for jobs that name no budget.")
    var geminiRequestsPerMinute: Int?

    @Option(help: "Gemini tokens per minute per API key, across all workers, for jobs that name no budget.")
    var geminiTokensPerMinute: Int?

    /// The same budgets as `reel worker` arguments.
    var workerArguments: [String] {
        (geminiRequestsPerMinute.map { ["--gemini-requests-per-minute", "\($0)"] } ?? [])
            + (geminiTokensPerMinute.map { ["--gemini-tokens-per-minute", "\($0)"] } ?? [])
    }
}

/// How workers treat HTTP sources (given to the workers `reel local` and `reel operator` start).
struct SourceOptions: ParsableArguments {
    @Option(help: "An HTTP source that sends nothing for this many seconds fails its attempt (retried with backoff).")
    var sourceStallSeconds: Double = 30

    func validate() throws {
        guard sourceStallSeconds >= 1 else { throw ValidationError("--source-stall-seconds must be at least 1") }
    }

    /// The same setting as `reel worker` arguments.
    var workerArguments: [String] { ["--source-stall-seconds", "\(sourceStallSeconds)"] }
}
