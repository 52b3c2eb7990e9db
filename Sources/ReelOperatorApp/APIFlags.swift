import ArgumentParser
import ReelCore

/// The REST API's flags, shared by `reel serve`, `reel local --api-addr` and `reel operator --api-addr`.
public struct APIFlags: ParsableArguments {
    public init() {}

    @Option(
        help: ArgumentHelp(
            "HMAC key of signed file links (32+ bytes). Default: STATE/signing.key, created when missing; "
                + "in a cluster, mount a Secret."))
    public var signingKeyFile: String?

    @Option(
        help: ArgumentHelp(
            "A directory file:// sources and outputs of jobs created over HTTP may name (repeatable; none by "
                + "default: HTTP callers use http(s)://, s3:// or uploads)."))
    public var apiAllowRoot: [String] = []

    @Option(help: "URL prefix of signed links, for a server behind a proxy (default: the request's Host).")
    public var publicURL: String?

    @Option(help: "How long signed links last (seconds).")
    public var urlLifetimeSeconds = 3600.0

    @Option(help: "The largest upload accepted, in bytes (tus Tus-Max-Size).")
    public var maxUploadBytes = UploadLimits().maxBytes

    @Option(help: "Bytes of uploads one namespace may hold (default: no quota).")
    public var uploadQuotaBytes: Int?

    @Option(help: "Hours an incomplete upload lasts after its last write before it is removed.")
    public var uploadExpiryHours = 24.0
}
