import Foundation
import ReelStorage
import ReelTestSupport
import Testing

@testable import ReelCore

@Suite struct AllowedRootsTests {
    @Test func relativeURIsResolveAgainstTheDeclaringFilesDirectory() throws {
        let directory = try TemporaryDirectory(prefix: "roots")
        let video = try directory.write("media/a.mp4", "x")
        let roots = AllowedRoots([directory.url.path])
        #expect(
            try roots.resolve(fileURI: "file://./a.mp4", base: directory.path("media")) == AllowedRoots.canonical(video)
        )
        #expect(try roots.resolve(fileURI: "file://\(video)", base: nil) == AllowedRoots.canonical(video))
    }

    @Test func dotDotAndSymlinksOutOfTheRootsAreRefused() throws {
        let inside = try TemporaryDirectory(prefix: "roots-in")
        let outside = try TemporaryDirectory(prefix: "roots-out")
        let secret = try outside.write("secret.mp4", "x")
        try FileManager.default.createSymbolicLink(atPath: inside.path("link.mp4"), withDestinationPath: secret)
        let roots = AllowedRoots([inside.url.path])
        for (uri, base) in [
            ("file://./../\(outside.url.lastPathComponent)/secret.mp4", inside.url.path),
            ("file://\(secret)", nil), ("file://./link.mp4", inside.url.path),
        ] as [(String, String?)] {
            #expect { try roots.resolve(fileURI: uri, base: base) } throws: { error in
                (error as? TaskFailure)?.reason == "SourceNotAllowed"
            }
        }
    }

    @Test func aMissingFileIsSourceNotFound() throws {
        let directory = try TemporaryDirectory(prefix: "roots")
        #expect {
            try AllowedRoots([directory.url.path]).resolve(fileURI: "file://./nope.mp4", base: directory.url.path)
        } throws: { ($0 as? TaskFailure)?.reason == "SourceNotFound" && ($0 as? TaskFailure)?.retryable == false }
    }

    @Test func storeWritesAreAtomicAndKeysAreChecked() async throws {
        let directory = try TemporaryDirectory(prefix: "store")
        let store = try FileSystemStore(root: directory.path("s"))
        let object = try await store.put("jobs/u/timeline.json", data: Data("{}".utf8))
        #expect(object.sha256 == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        let source = try directory.write("in.bin", String(repeating: "a", count: 3 << 20))
        let copied = try await store.put("jobs/u/source/in.bin", fromFile: source)
        #expect(copied.bytes == 3 << 20)
        #expect(try await store.list(prefix: "jobs/u") == ["jobs/u/source/in.bin", "jobs/u/timeline.json"])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path("s/jobs/u")).allSatisfy {
                !$0.contains("partial")
            })
        for key in ["../x", "/abs", "a//b", "a/./b", ""] {
            await #expect(throws: StorageError.self) { try await store.put(key, data: Data()) }
        }
        #expect(try await store.delete(prefix: "jobs/u") == 2)
        #expect(try await store.list(prefix: "jobs/u").isEmpty)
    }
}
