import Foundation
import Logging
import Prometheus
import ReelAPI
import ReelCore
import ReelHealth
import ReelHTTP
import ReelStorage
import ReelStore
import ReelSupport
import ReelTestSupport
import Synchronization
import Testing

@testable import ReelServer

/// An API server on a fresh database and a filesystem store, in this process; `stop()` ends it.
struct APIFixture {
    let databaseURL: String
    let service: Database
    let api: APIDatabase
    let store: FileSystemStore
    /// The store the server writes to (`store`, unless the test gave another).
    let served: any ObjectStore
    let base: String
    let files: SignedFiles
    let running: Task<Void, any Error>

    static let signingKey = Array(repeating: UInt8(7), count: 32)

    static func start(
        _ name: String, fileRoots: [String] = [], heartbeat: Duration = .seconds(15),
        statementTimeout: Duration = .seconds(15), uploads: UploadLimits = UploadLimits(),
        serving: (any ObjectStore)? = nil
    ) async throws -> APIFixture {
        let url = try await TestPostgres.migratedDatabase(name)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reel-api-\(UUID().uuidString)")
        let store = try FileSystemStore(root: directory.path)
        let api = APIDatabase(url: url, maxConnections: 8, statementTimeout: statementTimeout)
        var settings = APISettings(host: "127.0.0.1", port: 0)
        settings.fileRoots = AllowedRoots(fileRoots)
        settings.heartbeat = heartbeat
        settings.statsInterval = .seconds(1)
        settings.uploads = uploads
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let server = APIServer(
            settings: settings, database: api, store: serving ?? store, signingKey: signingKey,
            writer: { TenantResources(api.tenant($0)) }, registry: OperatorMetrics.bootstrap(),
            logger: TestPostgres.logger, onRunning: { portContinuation.yield($0) })
        let running = Task { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return APIFixture(
            databaseURL: url, service: Database(url: url, maxConnections: 4), api: api, store: store,
            served: serving ?? store,
            base: "http://127.0.0.1:\(port)", files: SignedFiles(store: store, signingKey: signingKey, publicURL: nil),
            running: running)
    }

    func stop() async {
        running.cancel()
        _ = try? await running.value
        await service.close()
        await api.close()
    }

    /// A fresh token of `role` in `namespace`.
    func token(_ namespace: String, _ role: TokenRole) async throws -> String {
        try await service.tokens.create(
            name: "\(role.rawValue)-\(UUID().uuidString.prefix(6))", namespace: namespace, role: role, expiresIn: nil
        ).secret
    }

    @discardableResult
    func call(
        _ method: String, _ path: String, token: String?, json: String? = nil,
        headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if json != nil { all.append(("Content-Type", "application/json")) }
        // A safety net, not a limit under test. When `swift test` starts every suite at once on two cores, one call
        // got 0 bytes in 30 s (CI on e0d45ab: idempotencyKeysReplayTheFirstAnswer took 107 s there, 2.2 s alone).
        let response = try await HTTPClient.send(
            HTTPRequest(
                method: method, url: base + path, headers: all, body: json.map { Data($0.utf8) }, timeout: .seconds(120)
            ))
        return Reply(response: response)
    }

    /// A job body with this spec fragment.
    static func job(_ name: String?, labels: [String: String] = [:], spec: String = #""title":"T""#) -> String {
        let meta = name.map { #""name":"\#($0)""# } ?? ""
        let labelText =
            labels.isEmpty ? "" : #","labels":{"# + labels.map { #""\#($0)":"\#($1)""# }.joined(separator: ",") + "}"
        return #"{"metadata":{\#(meta)\#(labelText)},"spec":{"source":{"uri":"https://example.com/a.mp4"},\#(spec)}}"#
    }
}

/// A response with its JSON at hand.
struct Reply {
    let response: HTTPResponse
    var status: Int { response.status }
    var text: String { String(decoding: response.body, as: UTF8.self) }
    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: response.body)) ?? .null }
    func header(_ name: String) -> String? { response.header(name) }

    /// A string at a dotted path (`metadata.uid`, `items.0.metadata.name`).
    func string(_ path: String) -> String? {
        if case .string(let value) = value(path) { return value }
        if case .int(let value) = value(path) { return String(value) }
        return nil
    }

    func value(_ path: String) -> JSONValue? {
        var current = json
        for part in path.split(separator: ".") {
            switch current {
            case .object(let fields): current = fields[String(part)] ?? .null
            case .array(let items):
                guard let index = Int(part), items.indices.contains(index) else { return nil }
                current = items[index]
            default: return nil
            }
        }
        return current == .null ? nil : current
    }

    var count: Int {
        if case .array(let items)? = value("items") { return items.count }
        return 0
    }
}
