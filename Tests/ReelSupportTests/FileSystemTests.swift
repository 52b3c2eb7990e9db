import Foundation
import ReelSupport
import ReelTestSupport
import Testing

/// The file-system helpers of the modules that do without Foundation, checked against Foundation's answers.
@Suite("Paths and directory walks without Foundation")
struct FileSystemTests {
    @Test func standardizesAsNSStringDoes() throws {
        let directory = try TemporaryDirectory(prefix: "paths")
        let real = directory.path("real")
        try FileManager.default.createDirectory(atPath: real + "/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.path("link"), withDestinationPath: real)
        let base = directory.url.path + "/"
        for path in [
            base + "link/sub/../x", base + "link/./sub//y/", base + "link/..", base + "link", base + "link/sub",
            base + "missing/../real/./sub/", "/a/b/../../..", "/a/./b/", "/../a", "/a/b/..", "/", "//", "/a//b///",
            "~/x", "~", "a/b/../c", "a/",
        ] {
            #expect(Paths.standardized(path) == (path as NSString).standardizingPath, "\(path)")
        }
        #expect(
            Paths.absolute("x/../y") == (FileManager.default.currentDirectoryPath + "/y" as NSString).standardizingPath)
        #expect(Paths.currentDirectory() == FileManager.default.currentDirectoryPath)
    }

    @Test func walksTheTreeAsFileManagersEnumeratorDoes() throws {
        let directory = try TemporaryDirectory(prefix: "walk")
        let root = directory.path("tree")
        for folder in ["a/b", "a/.hidden", ".git/objects", "c"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        }
        for file in ["top.yaml", "a/one.yml", "a/b/two.yaml", "a/.hidden/no.yaml", ".git/objects/x", ".dot.yaml"] {
            #expect(FileManager.default.createFile(atPath: "\(root)/\(file)", contents: Data("x".utf8)))
        }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/c/linked", withDestinationPath: "\(root)/a")
        let walked = Paths.walk(root)
        #expect(Set(walked.filter(\.isDirectory).map(\.relative)) == ["a", "a/b", "c"])
        #expect(
            Set(walked.filter { !$0.isDirectory }.map(\.relative)) == [
                "top.yaml", "a/one.yml", "a/b/two.yaml", "c/linked",
            ])
        // Foundation's enumerator, skipping what starts with a dot as Reel's callers did, lists the same entries.
        var expected: Set<String> = []
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        while let relative = enumerator.nextObject() as? String {
            if (relative as NSString).lastPathComponent.hasPrefix(".") {
                enumerator.skipDescendants()
                continue
            }
            expected.insert(relative)
        }
        #expect(Set(walked.map(\.relative)) == expected)
        #expect(Paths.walk(directory.path("missing")).isEmpty)
    }
}
