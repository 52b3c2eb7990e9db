import FoundationEssentials
import ReelHTTP
import ReelSupport

/// A watch's events, parsed line by line from the streamed response as the consumer asks for them.
public struct WatchEvents: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    let http: AsyncThrowingStream<HTTPStreamEvent, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var http: AsyncThrowingStream<HTTPStreamEvent, any Error>.AsyncIterator
        var buffer = Data()
        var status = 0

        public mutating func next() async throws -> WatchEvent? {
            while true {
                if (200..<300).contains(status), let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Data(buffer[buffer.startIndex..<newline])
                    buffer = Data(buffer[buffer.index(after: newline)...])
                    guard !line.isEmpty else { continue }
                    let event = try KubeClient.watchEvent(line)
                    if event.type == "ERROR" { throw KubeClient.status(410, event.object) }
                    return event
                }
                switch try await http.next() {
                case .head(let code, _)?: status = code
                case .data(let chunk)?: buffer.append(chunk)
                case nil:
                    if status != 0 && !(200..<300).contains(status) { throw KubeClient.status(status, buffer) }
                    return nil
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(http: http.makeAsyncIterator()) }
}

extension KubeResource {
    /// Core `v1` Secrets.
    public static let secrets = KubeResource(group: "", version: "v1", plural: "secrets")
}

extension KubeClient {
    /// One key of a Secret, decoded from base64 (never logged). A missing Secret or key is a `KubeError`
    /// (`404 NotFound`) naming the Secret and key but not the value.
    public func secretValue(namespace: String, name: String, key: String) async throws -> String {
        let data = try await get(.secrets, namespace: namespace, name: name)
        let secret: Secret
        do { secret = try JSONDecoder().decode(Secret.self, from: data) } catch {
            throw KubeError(code: 0, reason: "InvalidResponse", message: "Secret \(namespace)/\(name) is not a Secret")
        }
        if let encoded = secret.data?[key], let decoded = Data(base64Encoded: encoded) {
            return String(decoding: decoded, as: UTF8.self).trimmingWhitespace
        }
        if let plain = secret.stringData?[key] { return plain }
        throw KubeError(code: 404, reason: "NotFound", message: "Secret \(namespace)/\(name) has no key \"\(key)\"")
    }
}
