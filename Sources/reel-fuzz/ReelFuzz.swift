// reel-fuzz: Reel's fuzz targets (ReelFuzzTargets) as one program. Built by hack/fuzz.sh with
// `-sanitize=fuzzer,address -D REEL_LIBFUZZER`, libFuzzer drives it (REEL_FUZZ_TARGET=yaml|kube|media picks the
// target); built plainly, it replays files: `reel-fuzz TARGET FILE…`.
import Dispatch
import Foundation
import ReelFuzzTargets

/// Runs `body` to its end from a thread that is not one of Swift's cooperative threads (libFuzzer's own).
func blocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("reel-fuzz-\(getpid())").path

#if REEL_LIBFUZZER
    let target: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["REEL_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("set REEL_FUZZ_TARGET to yaml, kube or media\n".utf8))
            exit(2)
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        blocking { await target.run(bytes, scratch: scratch) }
        return 0
    }

    /// libFuzzer's driver, which its own `main` would call.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// SwiftPM links an executable's entry point as `<module>_main`: hand over to libFuzzer's driver.
    @_cdecl("reel_fuzz_main")
    public func fuzzMain(
        _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    ) -> Int32 {
        var count = argc
        var vector = argv
        return runDriver(&count, &vector) { data, size in fuzzOne(data, size) }
    }
#else
    /// Replays inputs: `reel-fuzz TARGET FILE…`.
    @main struct ReelFuzz {
        static func main() async {
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
                print("usage: reel-fuzz yaml|kube|media FILE…  (replays; hack/fuzz.sh builds the libFuzzer form)")
                exit(64)
            }
            for file in arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("cannot read \(file)")
                    exit(1)
                }
                await target.run(Array(data), scratch: scratch)
                print("ok \(file)")
            }
        }
    }
#endif
