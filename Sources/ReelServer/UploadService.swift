import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

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

/// Receives upload bodies into a partial object: bytes go to the store as they arrive (1 MiB at a time), and
/// every checkpoint makes them durable and records the offset in Postgres, so a dropped connection keeps what
/// arrived. A chunk sent with `Upload-Checksum` is kept only once it matches.
struct UploadService: Sendable {
    let store: (any PartialObjectStore)?
    let limits: UploadLimits
    let received: Counter
    let logger: Logger

    init(store: any ObjectStore, limits: UploadLimits, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.store = store as? any PartialObjectStore
        self.limits = limits
        received = registry.makeCounter(name: "reel_upload_received_bytes_total")
        self.logger = logger
    }

    func partialStore() throws -> any PartialObjectStore {
        guard let store else {
            throw APIFailure(.notImplemented, "NotImplemented", "this storage does not take resumable uploads")
        }
        return store
    }

    /// The offset a client may resume from: the recorded one, or less when the store lost bytes.
    func offset(of upload: UploadRecord) async throws -> Int {
        guard upload.state == .receiving else { return upload.received }
        let state = try upload.partial.decode(PartialState.self)
        return try await partialStore().partialBytes(upload.objectKey, state: state, recorded: upload.received)
    }

    /// Appends `body` to `upload` from `offset` as `writer` (which holds the upload's lease); returns the new
    /// offset. The client's bytes past the upload's length (or the size limit) end the request with 413.
    func receive(
        _ upload: UploadRecord, tenant: TenantStore, writer: String, at offset: Int, body: RequestBody,
        checksum: TusChecksum?
    ) async throws -> Int {
        let store = try partialStore()
        let started = try upload.partial.decode(PartialState.self)
        let output = try await store.openPartial(upload.objectKey, state: started, at: offset)
        defer { Task { await output.close() } }
        let limit = min(upload.length ?? limits.maxBytes, limits.maxBytes)
        var checksum = checksum
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 20)
        var lastCheckpoint = ContinuousClock.now
        var sinceCheckpoint = 0

        /// Durable bytes and a recorded offset (without a checksum), or just a renewed lease (with one).
        func checkpoint() async throws {
            var state = started
            var durable = offset
            if checksum == nil {
                try await flush()
                state = try await output.commit()
                durable = output.offset
            }
            let kept = try await tenant.recordUpload(
                upload.id, writer: writer, received: durable, partial: JSONDocument(encoding: state), length: nil,
                lease: limits.lease, expiry: limits.expiry)
            guard kept else {
                throw APIFailure.conflict(
                    "upload \(upload.id) was taken over by another request while this one stalled")
            }
            lastCheckpoint = .now
            sinceCheckpoint = 0
        }
        func flush() async throws {
            guard !pending.isEmpty else { return }
            try await output.append(pending)
            pending.removeAll(keepingCapacity: true)
        }

        do {
            for try await buffer in body {
                guard output.offset + pending.count + buffer.readableBytes <= limit else {
                    throw APIFailure(
                        .contentTooLarge, "RequestEntityTooLarge",
                        "the upload may hold at most \(limit) bytes; this request sends more")
                }
                let bytes = Array(buffer.readableBytesView)
                received.increment(by: Int64(bytes.count))
                checksum?.update(bytes)
                pending += bytes
                sinceCheckpoint += bytes.count
                if pending.count >= 1 << 20 { try await flush() }
                if sinceCheckpoint >= limits.checkpointBytes
                    || ContinuousClock.now - lastCheckpoint
                        >= limits.checkpointInterval
                {
                    try await checkpoint()
                }
            }
            try await flush()
            if let checksum, !checksum.matches {
                try await output.rollback()
                throw APIFailure(
                    Tus.checksumMismatch, "ChecksumMismatch",
                    "the chunk's \(checksum.algorithm) does not match Upload-Checksum; it was discarded")
            }
            checksum = nil
            try await checkpoint()
            return output.offset
        } catch let failure as APIFailure where failure.status == .conflict {
            throw failure  // another writer owns the upload now: touch nothing
        } catch {
            if checksum == nil {
                // What arrived before the connection dropped (or the limit was passed) is kept.
                do { try await checkpoint() } catch {
                    logger.warning("upload \(upload.id): cannot keep the bytes before the failure: \(error)")
                }
            } else {
                try? await output.rollback()  // an unverified chunk is discarded whole
            }
            throw error
        }
    }
}
