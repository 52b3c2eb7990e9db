import ArgumentParser
import Foundation
import Logging
import ReelCore
import ReelHTTP
import ReelServer
import ReelStorage
import ReelStore
import ReelSupport
import ReelWorkerCLI

/// `reel bench api`: the REST API under load — `GET /api/jobs/{uid}` and `POST /api/jobs` driven by `wrk`, and
/// the SSE fan-out of events to many streams — on an embedded PostgreSQL and a server in this process.
struct APIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Requests per second and latency of the REST API (wrk), and SSE fan-out to many streams.",
        discussion: """
            Starts a throwaway PostgreSQL and the API server in this process, creates a token and a job, then runs \
            wrk (Debian's) against GET /api/jobs/{uid} and POST /api/jobs for --seconds each with --connections, \
            and opens --streams event streams to which --events job events are published as fast as the \
            database takes them: deliveries per second, and when the last stream had them all.
            """)

    @Option(help: "Seconds each wrk run lasts.") var seconds = 10
    @Option(help: "wrk connections.") var connections = 32
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Concurrent event streams.") var streams = 1000
    @Option(help: "Events published to them.") var events = 200
    @Flag(help: "Print one JSON object.") var json = false

    struct Load: Encodable {
        var requestsPerSecond: Double
        var p50Ms: Double
        var p99Ms: Double
        var errors: Int
    }

    struct Result: Encodable {
        /// `GET /healthz`: the same server and wrk without token or database, the floor to compare with.
        var health: Load
        var get: Load
        var create: Load
        var streams: Int
        var events: Int
        var deliveriesPerSecond: Double
        var lastStreamCompleteMs: Double
        var medianStreamCompleteMs: Double
        var peakRssMB: Int
    }

    func run() async throws {
        let logger = CLILogging.logger("reel.bench", level: .warning)
        let result = try await BenchHarness.withDatabase("api", logger: logger) { url, directory in
            try await BenchHarness.API.with(url: url, directory: directory, logger: logger) { api in
                try await measure(api, scratch: directory.path)
            }
        }
        report(result)
    }

    private func measure(_ api: BenchHarness.API, scratch: String) async throws -> Result {
        let (base, token) = (api.base, api.token)
        let body = #"{"spec":{"title":"bench","source":{"uri":"https://example.com/talk.mp4"}}}"#
        let created = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: base + "/api/jobs",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: Data(body.utf8)))
        guard created.status == 201, let job = try? JSONDecoder().decode(Created.self, from: created.body) else {
            throw CLIFailure("could not create the benchmark's job: HTTP \(created.status)")
        }
        let health = try await wrk(base + "/healthz", token: token, scratch: scratch, body: nil)
        let get = try await wrk(base + "/api/jobs/\(job.metadata.uid)", token: token, scratch: scratch, body: nil)
        let create = try await wrk(base + "/api/jobs", token: token, scratch: scratch, body: body)
        let fanout = try await SSEFanout.run(
            host: "127.0.0.1", port: api.port, token: token, streams: streams, events: events, database: api.service)
        return Result(
            health: health, get: get, create: create, streams: streams, events: events,
            deliveriesPerSecond: Double(streams * events) / max(fanout.last, 1e-9),
            lastStreamCompleteMs: fanout.last * 1000, medianStreamCompleteMs: fanout.median * 1000,
            peakRssMB: StorageBench.peakRSSMB())
    }

    struct Created: Decodable {
        struct Meta: Decodable { var uid: String }
        var metadata: Meta
    }

    /// Runs wrk against `url` (a POST of `body` when given) and reads its summary.
    private func wrk(_ url: String, token: String, scratch: String, body: String?) async throws -> Load {
        var arguments = [
            "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-H", "Authorization: Bearer \(token)",
        ]
        if let body {
            let script = "\(scratch)/post.lua"
            let escaped = body.replacingOccurrences(of: "'", with: "\\'")
            try """
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"
            wrk.body = '\(escaped)'
            """.write(toFile: script, atomically: true, encoding: .utf8)
            arguments += ["-s", script]
        }
        let output = try await ProcessRunner.capture("/usr/bin/wrk", arguments + [url])
        guard output.status == 0 else { throw CLIFailure("wrk failed: \(output.stderr)\(output.stdout)") }
        return Self.parse(output.stdout)
    }

    /// wrk's `Requests/sec`, the 50 % and 99 % latencies, and its socket errors and non-2xx answers.
    static func parse(_ text: String) -> Load {
        func milliseconds(_ value: String) -> Double {
            let units: [(String, Double)] = [("us", 0.001), ("ms", 1), ("s", 1000), ("m", 60000)]
            for (unit, factor) in units where value.hasSuffix(unit) {
                return (Double(value.dropLast(unit.count)) ?? 0) * factor
            }
            return Double(value) ?? 0
        }
        var load = Load(requestsPerSecond: 0, p50Ms: 0, p99Ms: 0, errors: 0)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = fields.first else { continue }
            switch first {
            case "Requests/sec:": load.requestsPerSecond = Double(fields.last ?? "") ?? 0
            case "50%": load.p50Ms = milliseconds(fields.last ?? "")
            case "99%": load.p99Ms = milliseconds(fields.last ?? "")
            case "Non-2xx": load.errors += Int(fields.last ?? "") ?? 0
            case "Socket":
                load.errors += fields.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            default: break
            }
        }
        return load
    }

    private func report(_ result: Result) {
        if json {
            print((try? BenchHarness.json(result)) ?? "")
            return
        }
        func line(_ name: String, _ load: Load) -> String {
            String(
                format: "%@ %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms   errors %d", name, load.requestsPerSecond,
                load.p50Ms, load.p99Ms, load.errors)
        }
        print("wrk -t\(threads) -c\(connections) -d\(seconds)s")
        print(line("GET  /healthz       ", result.health))
        print(line("GET  /api/jobs/{uid}", result.get))
        print(line("POST /api/jobs      ", result.create))
        print(
            String(
                format: "SSE  %d streams × %d events: %.0f deliveries/s; all streams complete after %.0f ms "
                    + "(median stream %.0f ms)", result.streams, result.events, result.deliveriesPerSecond,
                result.lastStreamCompleteMs, result.medianStreamCompleteMs))
        print("peak RSS \(result.peakRssMB) MB (server, database pools and the stream clients together)")
    }
}
