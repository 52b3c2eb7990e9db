import ArgumentParser
import Foundation
import ReelCore
import ReelStorage
import ReelSupport
import ReelWorkerCLI

/// `reel bench storage`: put and get throughput of one large object, and this process's peak RSS, beside boto3's
/// transfer manager (`upload_file`/`download_file`) against the same store in the same run.
struct StorageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Put and get one large object; compare with boto3's transfer manager.",
        discussion: """
            The object is random bytes written to a temporary file (never held in memory). For s3:// stores the \
            peer runs with $REEL_PYTHON (or python3) and the same credentials and endpoint; --no-peer skips it. \
            The objects are deleted afterwards. Fault injection for tests: REEL_FAULT_STOP=multipart-complete stops \
            the process (SIGSTOP) once an upload has sent every part, before it completes.
            """)

    @Option(help: "The store: s3://BUCKET/PREFIX?… or file:///dir (default: $REEL_STORAGE).")
    var storage: String?

    @Option(help: "Object size in bytes.")
    var bytes = 1 << 30

    @Flag(help: "Do not run the boto3 peer.")
    var noPeer = false

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Result: Encodable {
        var bytes: Int
        var reelPutSeconds: Double
        var reelGetSeconds: Double
        var reelPeakRssMB: Int
        var boto3PutSeconds: Double?
        var boto3GetSeconds: Double?
        var boto3PeakRssMB: Int?
    }

    func run() async throws {
        let settings = ReelConfiguration()
        let url = try settings.require(storage, .storage, flagName: "--storage")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "reel-bench-storage-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = "\(directory)/object.bin"
        try await BlockingExecutor.files.run { try Self.randomFile(source, bytes: bytes) }
        var store = try await ObjectStores.connect(url, scratch: directory)
        if var s3 = store as? S3Store, settings.value(nil, .faultStop) == "multipart-complete" {
            s3.stopBeforeComplete = true
            store = s3
        }
        let key = "bench/\(UUID().uuidString.lowercased()).bin"
        let clock = ContinuousClock()
        let putStart = clock.now
        let stored = try await store.put(key, fromFile: source)
        let put = clock.now - putStart
        let getStart = clock.now
        let copy = "\(directory)/copy.bin"
        if let s3 = store as? S3Store {
            try await s3.get(key, toFile: copy)
        } else {
            _ = try await store.withLocalFile(key) { path in
                try FileManager.default.copyItem(atPath: path, toPath: copy)
            }
        }
        let get = clock.now - getStart
        let copied = try await BlockingExecutor.files.run { try FileHashing.hash(copy, key: key) }
        guard copied.bytes == stored.bytes, copied.sha256 == stored.sha256 else {
            throw CLIFailure("the object read back is not the object written (\(copied.bytes) bytes)")
        }
        _ = try await store.delete(prefix: key)
        var result = Result(
            bytes: bytes, reelPutSeconds: put.seconds, reelGetSeconds: get.seconds, reelPeakRssMB: Self.peakRSSMB())
        if let s3 = store as? S3Store, !noPeer {
            let peer = try await Self.boto3(s3.client.location, file: source, directory: directory)
            (result.boto3PutSeconds, result.boto3GetSeconds, result.boto3PeakRssMB) = peer
        }
        if json {
            print(try BenchHarness.json(result, snakeCase: true))
        } else {
            let mb = Double(bytes) / 1_000_000
            print(String(format: "object        %.0f MB", mb))
            print(String(format: "reel put      %.2f s (%.0f MB/s)", put.seconds, mb / put.seconds))
            print(String(format: "reel get      %.2f s (%.0f MB/s)", get.seconds, mb / get.seconds))
            print("reel peak RSS \(result.reelPeakRssMB) MB")
            if let up = result.boto3PutSeconds, let down = result.boto3GetSeconds, let rss = result.boto3PeakRssMB {
                print(String(format: "boto3 put     %.2f s (%.0f MB/s)", up, mb / up))
                print(String(format: "boto3 get     %.2f s (%.0f MB/s)", down, mb / down))
                print("boto3 peak RSS \(rss) MB")
            }
        }
    }

    /// Writes `bytes` random bytes, 4 MiB at a time.
    static func randomFile(_ path: String, bytes: Int) throws {
        guard let file = fopen(path, "wb") else { throw CLIFailure("cannot create \(path)") }
        defer { fclose(file) }
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt64](repeating: 0, count: (4 << 20) / 8)
        var left = bytes
        while left > 0 {
            for index in buffer.indices { buffer[index] = generator.next() }
            let count = min(left, buffer.count * 8)
            guard buffer.withUnsafeBytes({ fwrite($0.baseAddress, 1, count, file) }) == count else {
                throw CLIFailure("cannot write \(path)")
            }
            left -= count
        }
    }

    static func peakRSSMB() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss / 1024
    }

    /// boto3's `upload_file`/`download_file` (default transfer configuration) in a Python process of its own.
    static func boto3(_ location: S3Location, file: String, directory: String) async throws
        -> (Double, Double, Int)
    {
        let script = """
            import boto3, os, resource, sys, time, uuid
            from botocore.config import Config
            endpoint, region, bucket, prefix, path, out = sys.argv[1:7]
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                config=Config(s3={"addressing_style": sys.argv[7]}))
            key = prefix + "bench/boto3-" + uuid.uuid4().hex + ".bin"
            start = time.monotonic(); s3.upload_file(path, bucket, key); put = time.monotonic() - start
            start = time.monotonic(); s3.download_file(bucket, key, out); get = time.monotonic() - start
            s3.delete_object(Bucket=bucket, Key=key)
            assert os.path.getsize(out) == os.path.getsize(path)
            print(put, get, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
            """
        let python = ProcessInfo.processInfo.environment["REEL_PYTHON"] ?? "python3"
        let run = try await ProcessRunner.capture(
            python,
            [
                "-c", script, location.endpoint, location.region, location.bucket, location.prefix, file,
                "\(directory)/boto3.bin", location.pathStyle ? "path" : "virtual",
            ])
        let fields = run.stdout.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard run.status == 0, fields.count == 3 else { throw CLIFailure("the boto3 peer failed: \(run.stderr)") }
        return (fields[0], fields[1], Int(fields[2]))
    }
}
