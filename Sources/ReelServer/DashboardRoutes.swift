import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ReelAPI

/// The web dashboard: static HTML, CSS and JavaScript modules compiled into the binary, served at `/` and
/// `/ui/{file}`. It speaks only the public API (with the token the login screen keeps in session storage), so it
/// needs no route of its own beyond its files.
enum Dashboard {
    struct Asset: Sendable {
        var bytes: [UInt8]
        var type: String
        var etag: String

        init(_ bytes: [UInt8], _ type: String) {
            self.bytes = bytes
            self.type = type
            etag = "\"" + SHA256.hash(data: bytes).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
        }
    }

    static let javascript = "text/javascript; charset=utf-8"

    /// Every file of `Sources/ReelServer/Dashboard` by name (a test checks that none is left out).
    static let assets: [String: Asset] = [
        "index.html": Asset(PackageResources.index_html, "text/html; charset=utf-8"),
        "app.css": Asset(PackageResources.app_css, "text/css; charset=utf-8"),
        "favicon.svg": Asset(PackageResources.favicon_svg, "image/svg+xml"),
        "app.js": Asset(PackageResources.app_js, javascript),
        "api.js": Asset(PackageResources.api_js, javascript),
        "ui.js": Asset(PackageResources.ui_js, javascript),
        "notify.js": Asset(PackageResources.notify_js, javascript),
        "store.js": Asset(PackageResources.store_js, javascript),
        "tus.js": Asset(PackageResources.tus_js, javascript),
        "jobs.js": Asset(PackageResources.jobs_js, javascript),
        "upload.js": Asset(PackageResources.upload_js, javascript),
        "detail.js": Asset(PackageResources.detail_js, javascript),
        "queue.js": Asset(PackageResources.queue_js, javascript),
    ]

    /// Only this server's files run; media and images may come from presigned S3 links; no framing.
    static let policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        + "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    static func response(_ name: String, _ request: Request) throws -> Response {
        guard let asset = assets[name] else { throw APIFailure.notFound("dashboard file \(name)") }
        var headers: HTTPFields = [
            .contentType: asset.type, .eTag: asset.etag, .cacheControl: "no-cache",
            .contentSecurityPolicy: policy, .init("X-Content-Type-Options")!: "nosniff",
            .init("Referrer-Policy")!: "no-referrer",
        ]
        if request.headers[.ifNoneMatch] == asset.etag {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}

extension APIHandlers {
    func registerDashboard(_ router: Router<APIContext>) {
        router.get("/") { request, _ in try Dashboard.response("index.html", request) }
        router.get("ui/:file") { request, context in
            try Dashboard.response(context.parameters.get("file") ?? "", request)
        }
    }
}

extension OpenAPIDocument {
    static var dashboardPaths: [String: JSONValue] {
        let page: JSONValue = ["description": "The page", "content": ["text/html": ["schema": string]]]
        return [
            "/": ["get": operation("dashboard", "The web dashboard", responses: ["200": page], secured: false)],
            "/ui/{file}": [
                "parameters": [parameter("file", in: "path", "A file of the dashboard (app.js, app.css, …)", string)],
                "get": operation(
                    "dashboardFile", "One of the dashboard's files",
                    responses: [
                        "200": ["description": "The file", "content": ["*/*": ["schema": string]]],
                        "304": response("Not modified"), "404": status,
                    ], secured: false),
            ],
        ]
    }
}
