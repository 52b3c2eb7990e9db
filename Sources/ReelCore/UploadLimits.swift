import FoundationEssentials

/// Limits and timings of resumable uploads.
public struct UploadLimits: Sendable {
    /// The largest upload (`Tus-Max-Size`; `--max-upload-bytes`).
    public var maxBytes = 64 << 30
    /// Bytes a tenant's uploads may hold together (`nil`: no quota).
    public var tenantQuota: Int?
    /// How long an incomplete upload lasts after its last write.
    public var expiry: Duration = .seconds(24 * 3600)
    /// How long a writer holds an upload without showing progress.
    public var lease: Duration = .seconds(30)
    /// Bytes and time between checkpoints (durable bytes, recorded offset, renewed lease).
    public var checkpointBytes = 8 << 20
    public var checkpointInterval: Duration = .seconds(5)

    public init() {}
}
