import FoundationEssentials
import ReelHTTP
import ReelSupport

/// A JSON client of the Kubernetes API over libcurl: get, list (paged), watch (bookmarks, resume), create,
/// merge patch, server-side apply, the status subresource, delete. Errors are the server's `Status`.
public struct KubeClient: Sendable {
    public let connection: KubeConnection

    public init(connection: KubeConnection) { self.connection = connection }

    func request(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
        contentType: String = "application/json", timeout: Duration? = .seconds(60)
    ) -> HTTPRequest {
        var url = connection.server + path
        if !query.isEmpty {
            url +=
                "?"
                + query.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.escape($0.value))" }.joined(separator: "&")
        }
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", contentType)) }
        if let token = connection.currentToken { headers.append(("Authorization", "Bearer \(token)")) }
        return HTTPRequest(
            method: method, url: url, headers: headers, body: body, timeout: timeout, tls: connection.tls)
    }

    static func escape(_ value: String) -> String {
        PercentEncoding.encode(value, allowing: "")
    }

    /// Sends and returns the body of a 2xx answer; anything else throws the server's Status. With an exec
    /// plugin, the request carries its current token, and a 401 runs the plugin again and retries once.
    func send(_ request: HTTPRequest) async throws -> Data {
        var (request, token) = try await authorized(request)
        var response = try await transfer(request)
        if response.status == 401, let exec = connection.exec, let token {
            await exec.invalidate(token)
            (request, _) = try await authorized(request)
            response = try await transfer(request)
        }
        guard (200..<300).contains(response.status) else { throw Self.status(response.status, response.body) }
        return response.body
    }

    private func transfer(_ request: HTTPRequest) async throws -> HTTPResponse {
        do { return try await HTTPClient.send(request) } catch {
            throw KubeError(code: 0, reason: "TransportError", message: error.description)
        }
    }

    /// `request` with the exec plugin's current token (unchanged without a plugin), and that token.
    func authorized(_ request: HTTPRequest) async throws -> (HTTPRequest, String?) {
        guard connection.exec != nil else { return (request, nil) }
        let token: String?
        do { token = try await connection.bearerToken() } catch {
            throw KubeError(code: 401, reason: "Unauthorized", message: "\(error)")
        }
        var request = request
        request.headers.removeAll { $0.name == "Authorization" }
        if let token { request.headers.append(("Authorization", "Bearer \(token)")) }
        return (request, token)
    }

    package static func status(_ code: Int, _ body: Data) -> KubeError {
        struct Status: Decodable {
            var code: Int?
            var reason: String?
            var message: String?
        }
        let status = try? JSONDecoder().decode(Status.self, from: body)
        return KubeError(
            code: status?.code ?? code, reason: status?.reason ?? "Unknown",
            message: status?.message ?? String(decoding: body.prefix(300), as: UTF8.self))
    }

    /// One object.
    public func get(_ resource: KubeResource, namespace: String?, name: String) async throws -> Data {
        try await send(request("GET", resource.path(namespace: namespace, name: name)))
    }

    /// One page of a collection (`limit` items, from `continueToken`).
    public func list(
        _ resource: KubeResource, namespace: String?, limit: Int? = nil, continueToken: String? = nil,
        labelSelector: String? = nil
    ) async throws -> KubeList {
        var query: [String: String] = [:]
        if let limit { query["limit"] = "\(limit)" }
        if let continueToken { query["continue"] = continueToken }
        if let labelSelector { query["labelSelector"] = labelSelector }
        let data = try await send(request("GET", resource.path(namespace: namespace), query: query))
        return try Self.decodeList(data)
    }

    /// A list response: each item kept as its own JSON object.
    package static func decodeList(_ data: Data) throws -> KubeList {
        let list: ListEnvelope
        do { list = try JSONDecoder().decode(ListEnvelope.self, from: data) } catch {
            throw KubeError(code: 0, reason: "InvalidResponse", message: "a list that is not a list: \(error)")
        }
        let token = list.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }
        return KubeList(items: list.items, resourceVersion: list.metadata?.resourceVersion, continueToken: token)
    }

    /// Every item, page by page.
    public func listAll(_ resource: KubeResource, namespace: String?, pageSize: Int = 500) async throws -> KubeList {
        var items: [Data] = []
        let resourceVersion = try await forEachPage(resource, namespace: namespace, pageSize: pageSize) { page in
            items += page.items
        }
        return KubeList(items: items, resourceVersion: resourceVersion, continueToken: nil)
    }

    /// Lists page by page, handing each page to `body` before the next is read; returns the list's
    /// resourceVersion.
    public func forEachPage(
        _ resource: KubeResource, namespace: String?, pageSize: Int, _ body: (KubeList) async throws -> Void
    ) async throws -> String? {
        var token: String? = nil
        var resourceVersion: String? = nil
        repeat {
            let page = try await list(resource, namespace: namespace, limit: pageSize, continueToken: token)
            try await body(page)
            resourceVersion = page.resourceVersion
            token = page.continueToken
        } while token != nil
        return resourceVersion
    }

    /// Creates an object.
    public func create(_ resource: KubeResource, namespace: String?, _ object: Data) async throws -> Data {
        try await send(request("POST", resource.path(namespace: namespace), body: object))
    }

    /// A JSON merge patch (RFC 7386) of the object or of its `subresource` (`status`).
    public func mergePatch(
        _ resource: KubeResource, namespace: String?, name: String, subresource: String? = nil,
        _ patch: Data
    ) async throws -> Data {
        try await send(
            request(
                "PATCH", resource.path(namespace: namespace, name: name, subresource: subresource), body: patch,
                contentType: "application/merge-patch+json"))
    }

    /// Server-side apply of `object` as `fieldManager`. The body is JSON, which the server reads as YAML, so it is
    /// encoded once without JSON's `\/` escape (not YAML's).
    public func apply(
        _ resource: KubeResource, namespace: String?, name: String, fieldManager: String, force: Bool = true,
        _ object: some Encodable
    ) async throws -> Data {
        try await send(
            request(
                "PATCH", resource.path(namespace: namespace, name: name),
                query: ["fieldManager": fieldManager, "force": force ? "true" : "false"], body: try Self.body(object),
                contentType: "application/apply-patch+yaml"))
    }

    /// Replaces an object (PUT); the body's `metadata.resourceVersion` makes it conditional (409 when stale).
    public func replace(_ resource: KubeResource, namespace: String?, name: String, _ object: Data) async throws -> Data
    {
        try await send(request("PUT", resource.path(namespace: namespace, name: name), body: object))
    }

    /// Replaces the object's status through `/status`, optimistically: reads the object, lets `transform` return it
    /// with the new status, and writes it with the resourceVersion it was read at; on `409 Conflict` (someone wrote
    /// in between) it reads again and retries, up to `attempts` times.
    public func updateStatus(
        _ resource: KubeResource, namespace: String?, name: String, attempts: Int = 5,
        transform: (Data) async throws -> Data
    ) async throws -> Data {
        var attempt = 0
        while true {
            attempt += 1
            let current = try await get(resource, namespace: namespace, name: name)
            let updated = try await transform(current)
            do {
                return try await send(
                    request(
                        "PUT", resource.path(namespace: namespace, name: name, subresource: "status"), body: updated))
            } catch let error as KubeError where error.isConflict && attempt < attempts {
                continue
            }
        }
    }

    /// Deletes an object; with `preconditions`, only if it still has that uid and resourceVersion (`409` else).
    public func delete(
        _ resource: KubeResource, namespace: String?, name: String,
        preconditions: (uid: String, resourceVersion: String)? = nil
    ) async throws {
        var body: Data? = nil
        if let preconditions {
            body = try Self.body(
                DeleteOptions(
                    preconditions: .init(uid: preconditions.uid, resourceVersion: preconditions.resourceVersion)))
        }
        _ = try await send(request("DELETE", resource.path(namespace: namespace, name: name), body: body))
    }

    /// Watches from `resourceVersion` with bookmarks. The sequence ends when the server closes the watch; a
    /// `410 Gone` (or an `ERROR` event) is thrown as a `KubeError` (`isGone`: the caller relists).
    public func watch(_ resource: KubeResource, namespace: String?, resourceVersion: String?, timeoutSeconds: Int = 300)
        async throws -> WatchEvents
    {
        var query = ["watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "\(timeoutSeconds)"]
        if let resourceVersion { query["resourceVersion"] = resourceVersion }
        // The server ends the watch after timeoutSeconds; a watch still open well past that is on a connection
        // that went silent (a proxy that holds it, a peer gone without a word): give it up and watch again.
        let deadline = Duration.seconds(timeoutSeconds + max(5, timeoutSeconds / 10))
        let (request, _) = try await authorized(
            request("GET", resource.path(namespace: namespace), query: query, timeout: deadline))
        return WatchEvents(http: HTTPClient.stream(request))
    }

    package static func watchEvent(_ line: Data) throws -> WatchEvent {
        let event: WatchLine
        do { event = try JSONDecoder().decode(WatchLine.self, from: line) } catch {
            throw KubeError(code: 0, reason: "InvalidResponse", message: "a watch line that is not an event")
        }
        var version: String? = nil
        if case .object(let fields) = event.object, case .object(let metadata)? = fields["metadata"],
            case .string(let text)? = metadata["resourceVersion"]
        {
            version = text
        }
        return WatchEvent(
            type: event.type, object: try Self.body(Self.withoutManagedFields(event.object)), resourceVersion: version)
    }
}
