import Foundation
import ReelHTTP
import ReelSupport
import Synchronization

/// An SSE connection: frames as they arrive (`id`, `event`, `data`).
public final class EventStream: Sendable {
    public struct Frame: Sendable, Equatable {
        public var id: Int64?
        public var event: String?
        public var data: String
    }

    final class Shared: Sendable {
        let frames = Mutex<[Frame]>([])
        let arrived = WakeSignal()
        let status = Mutex<Int?>(nil)
    }

    let shared = Shared()
    let reader: Task<Void, Never>
    var arrived: WakeSignal { shared.arrived }
    /// The response status once the head arrived.
    public var status: Int? { shared.status.withLock { $0 } }

    /// Connects to `url` with a bearer `token`, resuming after `lastEventID`.
    public init(_ url: String, token: String, lastEventID: Int64? = nil) {
        var headers = [(name: "Authorization", value: "Bearer \(token)")]
        if let lastEventID { headers.append(("Last-Event-ID", String(lastEventID))) }
        let request = HTTPRequest(url: url, headers: headers, timeout: nil)
        let shared = self.shared
        reader = Task {
            var buffer = ""
            do {
                for try await event in HTTPClient.stream(request) {
                    switch event {
                    case .head(let code, _):
                        shared.status.withLock { $0 = code }
                        shared.arrived.signal()
                    case .data(let data):
                        buffer += String(decoding: data, as: UTF8.self)
                        while let end = buffer.range(of: "\n\n") {
                            let block = String(buffer[..<end.lowerBound])
                            buffer = String(buffer[end.upperBound...])
                            var frame = Frame(data: "")
                            var isEvent = false
                            for line in block.split(separator: "\n") {
                                if line.hasPrefix("id: ") { frame.id = Int64(line.dropFirst(4)) }
                                if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                                if line.hasPrefix("data: ") {
                                    frame.data = String(line.dropFirst(6))
                                    isEvent = true
                                }
                                if line.hasPrefix(": heartbeat") { frame.event = "heartbeat"; isEvent = true }
                            }
                            if isEvent { shared.frames.withLock { $0.append(frame) } }
                            shared.arrived.signal()
                        }
                    }
                }
            } catch {}
            shared.arrived.signal()
        }
    }

    /// Waits until `condition` holds for the frames received (at most `timeout`).
    @discardableResult
    public func wait(timeout: Duration = .seconds(20), until condition: ([Frame]) -> Bool) async -> [Frame] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let generation = arrived.generation
            let current = shared.frames.withLock { $0 }
            if condition(current) { return current }
            await arrived.wait(after: generation, timeout: .seconds(1))
        }
        return shared.frames.withLock { $0 }
    }

    /// The events (no heartbeats, no stats ticks) received so far.
    public var events: [Frame] { shared.frames.withLock { $0.filter { $0.id != nil } } }

    public func close() { reader.cancel() }
}
