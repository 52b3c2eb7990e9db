import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A request as the test server read it.
public struct TestHTTPRequest: Sendable {
    public var method: String
    /// Path with query.
    public var target: String
    public var headers: [String: String]  // lower-cased names
    public var body: Data

    public var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }

    public var query: [String: String] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var result: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return result
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What the handler answers.
public enum TestHTTPReply: Sendable {
    case response(status: Int, headers: [(String, String)], body: Data)
    /// Close the connection without answering (a dropped connection).
    case drop
    /// A chunked response written as `body` produces it (a watch); `body` returns `true` to end the response
    /// properly, `false` to cut the connection mid-stream.
    case stream(status: Int, headers: [(String, String)], body: @Sendable (_ write: (Data) -> Bool) -> Bool)

    public static func json(_ status: Int, _ object: Any, headers: [(String, String)] = []) -> TestHTTPReply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .response(status: status, headers: [("Content-Type", "application/json")] + headers, body: data)
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 (port 0, so tests never collide) for fakes of remote services. One thread
/// accepts; each connection is served on a thread of its own, one request per connection (`Connection: close`).
/// `bodyLimit(request headers)` may cap how many body bytes are read before the handler runs, to fake a
/// connection that breaks mid-upload.
public final class TestHTTPServer: Sendable {
    public let port: Int
    private let listener: Int32
    private let stopped = Flag()

    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    public typealias Handler = @Sendable (TestHTTPRequest) -> TestHTTPReply

    public init(
        bodyLimit: @escaping @Sendable (TestHTTPRequest) -> Int? = { _ in nil }, handler: @escaping Handler
    ) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        let stopped = self.stopped
        let thread = Thread {
            while !stopped.isSet {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 200) > 0 else { continue }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                let worker = Thread { Self.serve(client, bodyLimit: bodyLimit, handler: handler) }
                worker.start()
            }
            close(fd)
        }
        thread.start()
    }

    deinit { stop() }

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func stop() { stopped.set() }

    private static func serve(
        _ client: Int32, bodyLimit: @Sendable (TestHTTPRequest) -> Int?, handler: Handler
    ) {
        defer { close(client) }
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        func readMore() -> Bool {
            let count = read(client, &chunk, chunk.count)
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        let separator = Data("\r\n\r\n".utf8)
        var headerEnd: Range<Data.Index>?
        while (headerEnd = buffer.range(of: separator), headerEnd).1 == nil {
            guard readMore() else { return }
        }
        let head = String(decoding: buffer[..<headerEnd!.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var request = TestHTTPRequest(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: Data())
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let limit = min(length, bodyLimit(request) ?? length)
        var body = Data(buffer[headerEnd!.upperBound...])
        while body.count < limit {
            let before = buffer.count
            guard readMore() else { break }
            body.append(buffer[before...])
        }
        request.body = body.prefix(limit)
        if limit < length {
            // A broken connection: the client sent more than we took.
            _ = handler(request)
            shutdown(client, Int32(SHUT_RDWR))
            return
        }
        func sendAll(_ out: Data) -> Bool {
            out.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let sent = send(client, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if sent <= 0 { return false }
                    offset += sent
                }
                return true
            }
        }
        switch handler(request) {
        case .drop:
            shutdown(client, Int32(SHUT_RDWR))
        case .response(let status, let extra, let payload):
            var text =
                "HTTP/1.1 \(status) \(status < 400 ? "OK" : "Error")\r\nContent-Length: "
                + "\(payload.count)\r\nConnection: close\r\n"
            for (name, value) in extra { text += "\(name): \(value)\r\n" }
            var out = Data((text + "\r\n").utf8)
            out.append(payload)
            _ = sendAll(out)
        case .stream(let status, let extra, let body):
            var text =
                "HTTP/1.1 \(status) \(status < 400 ? "OK" : "Error")\r\nTransfer-Encoding: "
                + "chunked\r\nConnection: close\r\n"
            for (name, value) in extra { text += "\(name): \(value)\r\n" }
            guard sendAll(Data((text + "\r\n").utf8)) else { return }
            let complete = body { chunk in
                guard !chunk.isEmpty else { return true }
                var framed = Data((String(chunk.count, radix: 16) + "\r\n").utf8)
                framed.append(chunk)
                framed.append(Data("\r\n".utf8))
                return sendAll(framed)
            }
            if complete {
                _ = sendAll(Data("0\r\n\r\n".utf8))
            } else {
                shutdown(client, Int32(SHUT_RDWR))
            }
        }
    }
}
