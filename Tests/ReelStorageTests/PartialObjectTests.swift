import Foundation
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelStorage

/// Partial objects (resumable uploads) in both stores: appended over several writers, committed, rolled back,
/// completed into an ordinary object with exactly the bytes sent.
@Suite(.serialized) struct PartialObjectTests {
    /// Random bytes, so that every part boundary matters (read at once: a call per byte would hold one of the
    /// two cooperative threads for seconds and starve the other suites).
    static func bytes(_ count: Int) -> [UInt8] {
        let source = FileHandle(forReadingAtPath: "/dev/urandom")!
        defer { try? source.close() }
        return [UInt8](source.readData(ofLength: count))
    }

    /// Writes `data` in `pieces` through successive writers (each a new request), rolling back one extra piece on
    /// the way, and completes the object.
    static func write(_ data: [UInt8], pieces: Int, to store: any PartialObjectStore, key: String) async throws
        -> PartialState
    {
        var state = try await store.beginPartial(key, expectedBytes: data.count)
        var offset = 0
        let size = (data.count + pieces - 1) / pieces
        while offset < data.count {
            let writer = try await store.openPartial(key, state: state, at: offset)
            let piece = Array(data[offset..<min(data.count, offset + size)])
            try await writer.append(piece)
            state = try await writer.commit()
            // A chunk that fails its checksum: appended, then dropped.
            try await writer.append(bytes(1000))
            try await writer.rollback()
            offset = writer.offset
            await writer.close()
        }
        #expect(try await store.partialBytes(key, state: state, recorded: data.count) == data.count)
        return state
    }

    @Test func fileSystemPartialObjects() async throws {
        let directory = try TemporaryDirectory()
        let store = try FileSystemStore(root: directory.path("store"))
        let data = Self.bytes(3_000_000)
        let state = try await Self.write(data, pieces: 7, to: store, key: "uploads/ns/a/clip.mp4")
        #expect(try await store.list(prefix: "uploads").isEmpty)  // invisible until complete
        let object = try await store.completePartial("uploads/ns/a/clip.mp4", state: state)
        #expect(object.bytes == data.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: store.path("uploads/ns/a/clip.mp4"))) == Data(data))
        #expect(try await store.readableLocation("uploads/ns/a/clip.mp4") == store.path("uploads/ns/a/clip.mp4"))
        let other = try await store.beginPartial("uploads/ns/b/x.mp4", expectedBytes: nil)
        try await store.abortPartial("uploads/ns/b/x.mp4", state: other)
        #expect(!FileManager.default.fileExists(atPath: store.path("uploads/ns/b")))
    }

    @Test func s3PartialObjectsGoUpInPartsAndSurviveALostTail() async throws {
        let moto = try await MotoServer()
        var store = try S3StoreTests.store(moto, prefix: "p/")
        store.partSize = 5 << 20
        let data = Self.bytes(12 << 20)
        let key = "uploads/ns/a/big.mp4"
        var state = try await Self.write(Array(data.prefix(11 << 20)), pieces: 4, to: store, key: key)
        #expect(state.parts.count == 2)  // 10 MiB in parts, 1 MiB in the scratch tail
        // The scratch space is lost (another machine, a wiped /tmp): only the parts count.
        unlink(store.tailPath(state))
        #expect(try await store.partialBytes(key, state: state, recorded: 11 << 20) == 10 << 20)
        let writer = try await store.openPartial(key, state: state, at: 10 << 20)
        try await writer.append(Array(data[(10 << 20)...]))
        state = try await writer.commit()
        await writer.close()
        let object = try await store.completePartial(key, state: state)
        #expect(object.bytes == data.count)
        let directory = try TemporaryDirectory()
        try await store.get(key, toFile: directory.path("back"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.path("back"))) == Data(data))
        // The abandoned-upload pass leaves resumable uploads alone.
        let pending = try await store.beginPartial("uploads/ns/b/slow.mp4", expectedBytes: nil)
        #expect(try await store.abortAbandonedUploads(olderThan: .zero, now: Date().addingTimeInterval(3600)) == 0)
        try await store.abortPartial("uploads/ns/b/slow.mp4", state: pending)
        #expect(!FileManager.default.fileExists(atPath: store.tailPath(pending)))
    }
}
