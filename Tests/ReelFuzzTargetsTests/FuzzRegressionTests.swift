import Foundation
import ReelFuzzTargets
import ReelTestSupport
import Testing

/// Every seed and every input that once crashed a fuzz target (`Tests/Fuzz/<target>/`), replayed in-process: a
/// crash here is a crash in a worker, the operator or `reel validate` on somebody's file.
@Suite struct FuzzRegressionTests {
    static func inputs(_ target: FuzzTarget) throws -> [String] {
        let directory = ReelPaths.packageRoot.appendingPathComponent("Tests/Fuzz/\(target.rawValue)").path
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { "\(directory)/\($0)" }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everySeedAndEveryCrashOfATargetRunsToItsEnd(_ target: FuzzTarget) async throws {
        let scratch = try TemporaryDirectory(prefix: "fuzz-replay")
        let inputs = try Self.inputs(target)
        #expect(inputs.count >= 4, "the seed corpus of \(target) is in Tests/Fuzz/\(target.rawValue)")
        for input in inputs {
            let bytes = try #require(FileManager.default.contents(atPath: input))
            await target.run(Array(bytes), scratch: scratch.url.path)
        }
    }

    /// The media file found by fuzzing: packets without timestamps before any of the reference stream, and pts
    /// past Int64's range once scaled, trapped the splitter (an overflow kills the worker process, and every task
    /// it held with it). Now the split ends in an error or in chunks.
    @Test func aDamagedFileWhoseTimestampsOverflowDoesNotTrapTheSplitter() async throws {
        let scratch = try TemporaryDirectory(prefix: "fuzz-split")
        let input = try #require(try Self.inputs(.media).first { $0.hasSuffix("crash-split-timestamps.bin") })
        let bytes = try #require(FileManager.default.contents(atPath: input))
        await FuzzTarget.media.run(Array(bytes), scratch: scratch.url.path)
    }
}
