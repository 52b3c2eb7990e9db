import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ReelCore
import ReelMedia
import ReelStorage
import ReelStore
import ReelSupport

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
        let session = try await UploadSession(
            service: self, upload: upload, tenant: tenant, writer: writer, offset: offset, checksum: checksum)
        do {
            for try await buffer in body { try await session.feed(buffer) }
            return try await session.finish()
        } catch {
            await session.fail(error)
            throw error
        }
    }
}

/// One request's bytes into one upload: fed as they arrive, kept durably at every checkpoint.
final class UploadSession {
    let service: UploadService
    let upload: UploadRecord
    let tenant: TenantStore
    let writer: String
    let started: PartialState
    let offset: Int
    let output: any PartialWriter
    let limit: Int
    var checksum: TusChecksum?
    var pending: [UInt8] = []
    /// Bytes handed to the writer (the one write in flight included).
    var written: Int
    /// The write in flight, if any: the next megabyte arrives while the last one goes to disk.
    var writing: Task<Void, any Error>?
    var lastCheckpoint = ContinuousClock.now
    var sinceCheckpoint = 0

    init(
        service: UploadService, upload: UploadRecord, tenant: TenantStore, writer: String, offset: Int,
        checksum: TusChecksum?
    ) async throws {
        self.service = service
        self.upload = upload
        self.tenant = tenant
        self.writer = writer
        self.offset = offset
        self.checksum = checksum
        started = try upload.partial.decode(PartialState.self)
        output = try await service.partialStore().openPartial(upload.objectKey, state: started, at: offset)
        limit = min(upload.length ?? service.limits.maxBytes, service.limits.maxBytes)
        pending.reserveCapacity(1 << 20)
        written = offset
    }

    /// Bytes so far (held or written).
    var size: Int { written + pending.count }

    func feed(_ buffer: ByteBuffer) async throws {
        guard size + buffer.readableBytes <= limit else {
            throw APIFailure(
                .contentTooLarge, "RequestEntityTooLarge",
                "the upload may hold at most \(limit) bytes; this request sends more")
        }
        let bytes = buffer.readableBytesView
        service.received.increment(by: Int64(bytes.count))
        checksum?.update(bytes)
        pending.append(contentsOf: bytes)
        sinceCheckpoint += bytes.count
        if pending.count >= 1 << 20 { try await flush() }
        if sinceCheckpoint >= service.limits.checkpointBytes
            || ContinuousClock.now - lastCheckpoint >= service.limits.checkpointInterval
        {
            try await checkpoint()
        }
    }

    /// The chunk is whole: its checksum is checked (460 and discarded on a mismatch), its bytes kept; returns the
    /// new offset.
    func finish() async throws -> Int {
        try await flush()
        try await drain()
        if let checksum, !checksum.matches {
            try await output.rollback()
            throw APIFailure(
                Tus.checksumMismatch, "ChecksumMismatch",
                "the chunk's \(checksum.algorithm) does not match Upload-Checksum; it was discarded")
        }
        checksum = nil
        try await checkpoint()
        await output.close()
        return output.offset
    }

    /// The request failed (a dropped connection, too many bytes): what arrived is kept, unless it was a chunk with
    /// a checksum, which is discarded whole; nothing is touched once another writer owns the upload.
    func fail(_ error: any Error) async {
        try? await drain()
        if let failure = error as? APIFailure, failure.status == .conflict {
            await output.close()
            return
        }
        if checksum == nil {
            do { try await checkpoint() } catch {
                service.logger.warning("upload \(upload.id): cannot keep the bytes before the failure: \(error)")
            }
        } else {
            try? await output.rollback()
        }
        await output.close()
    }

    /// Durable bytes and a recorded offset (without a checksum), or just a renewed lease (with one).
    private func checkpoint() async throws {
        var state = started
        var durable = offset
        if checksum == nil {
            try await flush()
            try await drain()
            state = try await output.commit()
            durable = output.offset
        }
        let kept = try await tenant.recordUpload(
            upload.id, writer: writer, received: durable, partial: JSONDocument(encoding: state), length: nil,
            lease: service.limits.lease, expiry: service.limits.expiry)
        guard kept else {
            throw APIFailure.conflict("upload \(upload.id) was taken over by another request while this one stalled")
        }
        lastCheckpoint = .now
        sinceCheckpoint = 0
    }

    /// Hands what is pending to the writer, after the write in flight.
    private func flush() async throws {
        guard !pending.isEmpty else { return }
        try await drain()
        let chunk = pending
        pending = []
        pending.reserveCapacity(1 << 20)
        written += chunk.count
        writing = Task { [output] in try await output.append(chunk) }
    }

    /// Waits for the write in flight.
    private func drain() async throws {
        guard let writing else { return }
        self.writing = nil
        try await writing.value
    }
}
