import Foundation

/// What a running process is: the executable it runs (after any `exec`) and the libraries it has mapped.
public struct ProcessImage {
    public let executable: String
    /// `/proc/PID/maps`, read to its end (a /proc file reports size 0, so a sized read would get nothing).
    public let maps: String

    public init(pid: Int32) throws {
        executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps"))
        defer { try? handle.close() }
        maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    }

    /// Foundation's libraries with ICU and XML (what FoundationEssentials does without) that are mapped.
    public var foundationLibraries: [String] {
        ["libFoundation.so", "libFoundationInternationalization.so", "libFoundationXML.so", "_FoundationICU"]
            .filter { maps.contains($0) }
    }
}
