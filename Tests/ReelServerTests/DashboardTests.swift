import Foundation
import ReelAPI
import ReelHTTP
import ReelPostgres
import ReelStore
import ReelTestSupport
import Testing

@testable import ReelServer

/// The dashboard's files as the server hands them out, and the endpoints only it needed: `GET /api/whoami`,
/// `GET /api/jobs/{job}/analysis` and `GET /api/queue/history`. The pages themselves run in a real browser in
/// hack/check-dashboard.sh.
@Suite struct DashboardTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/ReelServer/Dashboard").standardized

    @Test("every file of Sources/ReelServer/Dashboard is served, with its type, a policy and an ETag (304 on a match)")
    func filesAreServed() async throws {
        let fixture = try await APIFixture.start("dashboard_files")
        defer { Task { await fixture.stop() } }
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(Set(names) == Set(Dashboard.assets.keys), "Dashboard.assets must list every file of the directory")
        for name in names {
            let reply = try await fixture.call("GET", "/ui/\(name)", token: nil)
            #expect(reply.status == 200, "\(name)")
            let bytes = try Data(contentsOf: Self.directory.appendingPathComponent(name))
            #expect(reply.response.body == bytes, "\(name) differs from the file in the repository")
            #expect(reply.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            let type = try #require(reply.header("Content-Type"))
            let expected = name.hasSuffix(".js") ? "text/javascript" : name.hasSuffix(".css") ? "text/css" : nil
            if let expected { #expect(type.hasPrefix(expected), "\(name): \(type)") }
            let etag = try #require(reply.header("ETag"))
            let again = try await fixture.call("GET", "/ui/\(name)", token: nil, headers: [("If-None-Match", etag)])
            #expect(again.status == 304 && again.response.body.isEmpty)
        }
        let page = try await fixture.call("GET", "/", token: nil)
        #expect(page.status == 200 && page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.text.contains(#"<script type="module" src="/ui/app.js">"#))
        let missing = try await fixture.call("GET", "/ui/nosuch.js", token: nil)
        #expect(missing.status == 404 && missing.string("kind") == "Status")
        #expect(try await fixture.call("POST", "/", token: nil).status == 405)
    }

    @Test("every module a page imports, and every /ui/ file index.html names, is one the server has")
    func importsResolve() throws {
        var wanted: Set<String> = []
        for name in Dashboard.assets.keys {
            let text = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
            for pattern in [#"from "\./([\w.-]+)""#, #"import\("\./([\w.-]+)"\)"#, #""/ui/([\w.-]+)""#] {
                for match in text.matches(of: try Regex<(Substring, Substring)>(pattern)) {
                    wanted.insert(String(match.output.1))
                }
            }
        }
        #expect(wanted.count > 10)
        #expect(wanted.subtracting(Dashboard.assets.keys).isEmpty, "\(wanted.subtracting(Dashboard.assets.keys))")
    }

    @Test("GET /api/whoami: the token's name, namespace and role; 401 without one")
    func whoami() async throws {
        let fixture = try await APIFixture.start("dashboard_whoami")
        defer { Task { await fixture.stop() } }
        let token = try await fixture.token("media", .viewer)
        let reply = try await fixture.call("GET", "/api/whoami", token: token)
        #expect(reply.status == 200)
        #expect(reply.string("namespace") == "media" && reply.string("role") == "viewer")
        #expect(reply.string("name")?.hasPrefix("viewer-") == true)
        #expect(try await fixture.call("GET", "/api/whoami", token: nil).status == 401)
    }
}
