import Foundation
import ReelStorage
import ReelTestSupport
import Testing
import ReelSupport

@Suite("File-system store")
struct FileSystemStoreTests {
    /// `sha256sum`'s digest of a file, the peer the store's own hashing must agree with.
    static func sha256sum(_ path: String) async throws -> String {
        let result = try await ProcessRunner.capture("/usr/bin/sha256sum", [path])
        return String(result.stdout.prefix(64))
    }

    @Test func putsHashListAndDeleteByPrefix() async throws {
        let dir = try TemporaryDirectory(prefix: "store")
        let store = try FileSystemStore(root: dir.path("store"))
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let a = try await store.put("jobs/u1/chunks/0.mp4", data: data)
        let source = try dir.write("source.bin", String(repeating: "reel ", count: 30_000))
        let b = try await store.put("jobs/u1/source/in.bin", fromFile: source)
        let moving = try dir.write("moving.bin", "moved bytes")
        let c = try await store.put("jobs/u2/render.mp4", movingFile: moving)

        #expect(a.bytes == 100_000 && b.bytes == 150_000 && c.bytes == 11)
        #expect(a.sha256 == (try await Self.sha256sum(store.path(a.key))))
        #expect(b.sha256 == (try await Self.sha256sum(source)))
        #expect(c.sha256 == (try await Self.sha256sum(store.path(c.key))))
        #expect(!FileManager.default.fileExists(atPath: moving), "a move leaves no source behind")
        #expect(FileManager.default.fileExists(atPath: source), "a copy keeps its source")
        #expect(a.uri == "file://\(dir.path("store"))/jobs/u1/chunks/0.mp4")
        #expect(try await store.head(a.key)?.bytes == 100_000)
        #expect(try await store.head("jobs/u1/none") == nil)

        #expect(try await store.list(prefix: "jobs/u1") == ["jobs/u1/chunks/0.mp4", "jobs/u1/source/in.bin"])
        #expect(try await store.list(prefix: "jobs/u1/") == ["jobs/u1/chunks/0.mp4", "jobs/u1/source/in.bin"])
        #expect(try await store.list(prefix: "jobs/none").isEmpty)
        #expect(try await store.delete(prefix: "jobs/u1/") == 2)
        #expect(try await store.list(prefix: "jobs").map { $0 } == ["jobs/u2/render.mp4"])
        await #expect(throws: StorageError.self) { try await store.withLocalFile(a.key) { $0 } }
    }

    @Test func keysThatLeaveTheRootAreRefused() async throws {
        let dir = try TemporaryDirectory(prefix: "storekeys")
        let store = try FileSystemStore(root: dir.path("store"))
        for key in ["", "/etc/passwd", "../outside", "jobs/../../outside", "jobs//x", "./x", "jobs/."] {
            let error = await #expect(throws: StorageError.self, "\(key)") {
                try await store.put(key, data: Data("x".utf8))
            }
            #expect(error?.code == .invalidKey, "\(key)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted() == ["store"])
        #expect(try await store.list(prefix: "").isEmpty)
    }

    /// A write that fails leaves neither an object nor a temporary file; a temporary file left by a crash is
    /// never listed.
    @Test func aFailedWriteLeavesNothingUnderTheKey() async throws {
        let dir = try TemporaryDirectory(prefix: "storeatomic")
        let store = try FileSystemStore(root: dir.path("store"))
        await #expect(throws: StorageError.self) {
            try await store.put("jobs/u/source/in.mp4", fromFile: dir.path("missing.mp4"))
        }
        #expect(try await store.head("jobs/u/source/in.mp4") == nil)
        let left = FileManager.default.enumerator(atPath: dir.path("store"))?.compactMap { $0 as? String } ?? []
        #expect(left.allSatisfy { !$0.contains(".partial") }, "\(left)")
        _ = try dir.write("store/jobs/u/chunks/1.mp4.partial-123", "half")
        _ = try await store.put("jobs/u/chunks/0.mp4", data: Data("whole".utf8))
        #expect(try await store.list(prefix: "jobs/u") == ["jobs/u/chunks/0.mp4"])
    }

    @Test func storeURLs() async throws {
        let dir = try TemporaryDirectory(prefix: "storeurls")
        #expect(try ObjectStores.open("file://\(dir.path("a"))").baseURI == "file://\(dir.path("a"))/")
        #expect(try ObjectStores.open(dir.path("b") + "/").baseURI == "file://\(dir.path("b"))/")
        for (url, fragment) in [
            ("file://relative/dir", "file:///absolute/path"), ("gs://bucket/prefix", "gs:// storage is not supported"),
            ("relative", "absolute directory"),
        ] {
            #expect(throws: StorageError.self) { try ObjectStores.open(url) }
            do { _ = try ObjectStores.open(url) } catch let error as StorageError {
                #expect(error.code == .unsupported && error.message.contains(fragment), "\(url): \(error.message)")
            }
        }
        // S3 needs credentials, and says where they come from.
        #expect {
            try ObjectStores.open("s3://bucket/prefix", environment: [:])
        } throws: { error in
            (error as? StorageError)?.code == .unauthorized && "\(error)".contains("AWS_ACCESS_KEY_ID")
        }
        let s3 = try ObjectStores.open(
            "s3://bucket/prefix", environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(s3.baseURI == "s3://bucket/prefix/")
    }
}
