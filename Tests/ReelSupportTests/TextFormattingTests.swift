import Foundation
import ReelSupport
import Synchronization
import Testing

/// The helpers that let Reel's worker modules do without Foundation (`FoundationEssentials` only), checked against
/// what Foundation answers for the same input.
@Suite("Text and paths without Foundation")
struct TextFormattingTests {
    @Test func formatsAsStringFormatDoes() {
        let cases: [(String, [any CVarArg])] = [
            ("%.3f", [1.0]), ("%.3f", [0.0005]), ("%.2f", [119.995]), ("%.1f", [-3.25]), ("%05ld.", [7]),
            ("%04ld%02ld%02ldT%02ld%02ld%02ldZ", [2026, 12, 2, 7, 5, 9]), ("%%%02X", [UInt8(0x2F)]),
            ("%04lld-%02lld", [Int64(-44), Int64(3)]), ("%03ld  AX", [12]),
        ]
        for (format, arguments) in cases {
            #expect(cFormat(format, arguments: arguments) == String(format: format, arguments: arguments), "\(format)")
        }
        let long = String(repeating: "x", count: 200)
        #expect(cFormat("[%ld] " + long, 5) == "[5] " + long)
    }

    /// As `NSString`'s path methods answer (written out: Foundation's own crashes on some of these).
    @Test func pathsAsNSStringReadsThem() {
        let cases: [(path: String, parent: String, last: String, ext: String)] = [
            ("/a/b/c", "/a/b", "c", ""), ("/a/b/c/", "/a/b", "c", ""), ("/a", "/", "a", ""), ("/", "/", "/", ""),
            ("a", "", "a", ""), ("a/b", "a", "b", ""), ("/a//b", "/a", "b", ""), ("/a/b.mp4", "/a", "b.mp4", "mp4"),
            ("/a.d/b", "/a.d", "b", ""), (".profile", "", ".profile", ""), ("/x/.y", "/x", ".y", ""),
            ("/s/chunk.tar.gz", "/s", "chunk.tar.gz", "gz"),
        ]
        for (path, parent, last, ext) in cases {
            #expect(Paths.deletingLastComponent(path) == parent, "\(path)")
            #expect(Paths.lastComponent(path) == last, "\(path)")
            #expect(Paths.fileExtension(path) == ext, "\(path)")
            if path != "/", path.contains("/") {
                let ns = path as NSString
                #expect(ns.deletingLastPathComponent == parent && ns.lastPathComponent == last, "\(path)")
            }
        }
        #expect(Paths.appending("/out", "00001.mp4") == "/out/00001.mp4")
        #expect(Paths.appending("/out/", "x") == "/out/x")
    }

    @Test func percentEncodingAsFoundationDoes() {
        for text in ["/plain/path", "/with space/and%percent", "/ü/日本", "a+b=c&d", "~user/x_y-z.w", "#?[]"] {
            #expect(
                PercentEncoding.encode(text, allowing: PercentEncoding.pathAllowed)
                    == text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed), "\(text)")
            let encoded = PercentEncoding.encode(text, allowing: "")
            #expect(PercentEncoding.decode(encoded) == text)
            #expect(encoded.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._~%".contains($0)) })
        }
        for text in ["a%20b", "%E6%97%A5", "100%", "%zz", "%C3", "plain", "%2f%2F"] {
            #expect(PercentEncoding.decode(text) == text.removingPercentEncoding, "\(text)")
        }
    }

    @Test func trimsWhitespaceAndLineBreaks() {
        #expect(" \t token\n".trimmingWhitespace == "token")
        #expect("\n\r\n".trimmingWhitespace == "")
        #expect("a b".trimmingWhitespace == "a b")
        #expect("  x "[...].trimmingWhitespace == "x")
    }

    @Test func describesFileSystemErrorsInTheSystemsWords() {
        do {
            try FileManager.default.createDirectory(atPath: "/proc/no/such", withIntermediateDirectories: true)
            Issue.record("created a directory under /proc")
        } catch {
            #expect(describe(error).hasSuffix("No such file or directory"), "\(describe(error))")
        }
        #expect(describe(POSIXError(.EACCES)) == "Permission denied")
    }

    @Test func aConditionLockWakesAWaiterAndTimesOut() {
        let lock = ConditionLock()
        lock.lock()
        let started = ContinuousClock.now
        #expect(!lock.wait(timeout: .milliseconds(50)))
        #expect(ContinuousClock.now - started >= .milliseconds(50))
        lock.unlock()
        // A thread of its own sets the flag and signals; the waiter wakes before its long timeout.
        let flag = Mutex(false)
        lock.lock()
        startThread(name: "reel.test") {
            lock.withLock {
                flag.withLock { $0 = true }
                lock.signal()
            }
        }
        while !flag.withLock({ $0 }) { #expect(lock.wait(timeout: .seconds(30))) }
        lock.unlock()
    }
}
