import Foundation
import ReelStorage
import ReelSupport
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

    /// The reconciler stores a job's spec with its relative URIs made absolute, so that workers resolve nothing
    /// against a directory only the backend knew (a space in it survives the trip through the URI).
    @Test func theProcessingSpecCarriesAbsoluteURIsOnly() throws {
        let directory = try TemporaryDirectory(prefix: "roots spec")
        let video = try directory.write("jobs/clips/a.mp4", "x")
        let spec = #"{"source":{"uri":"file://./clips/a.mp4"},"output":{"uri":"file://./out/"},"priority":"high"}"#
        func stored(_ spec: String, file: String?) -> StoredResource {
            StoredResource(
                uid: "u", key: ResourceKey(kind: "VideoJob", namespace: "default", name: "a"), generation: 1,
                resourceVersion: 1, spec: JSONDocument(text: spec), creationTimestamp: Date(), sourceFile: file)
        }
        struct Spec: Decodable {
            struct Location: Decodable { var uri: String }
            var source: Location
            var output: Location?
            var priority: String
        }
        let resolved = try stored(spec, file: directory.path("jobs/a.yaml")).processingSpec().decode(Spec.self)
        let roots = AllowedRoots([directory.url.path])
        #expect(resolved.source.uri.hasPrefix("file:///"))
        #expect(try roots.resolve(fileURI: resolved.source.uri, base: nil) == AllowedRoots.canonical(video))
        #expect(try roots.lexicalPath(fileURI: resolved.output!.uri, base: nil) == directory.path("jobs/out"))
        #expect(resolved.priority == "high")
        // Absolute URIs, and resources with no declaring file (the API server's), are left as they are.
        let absolute = #"{"source":{"uri":"file:///srv/a.mp4"}}"#
        #expect(try stored(absolute, file: directory.path("a.yaml")).processingSpec().text == absolute)
        #expect(try stored(spec, file: nil).processingSpec().text == spec)
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
