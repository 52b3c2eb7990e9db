import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ReelStore
import ReelSupport
import Synchronization

/// Many `/api/events` streams on SwiftNIO's event loops (one thread per core, not a thread per stream), counting
/// the events each receives; `run` publishes events once every stream is subscribed and times their delivery.
enum SSEFanout {
    /// Seconds from the first publish until the last stream, and the median one, had every event.
    struct Outcome {
        var last: Double
        var median: Double
    }

    final class Tracker: Sendable {
        struct State {
            var subscribed = 0
            var counts: [Int]
            var completed: [ContinuousClock.Instant?]
        }
        let state: Mutex<State>
        let changed = WakeSignal()
        let events: Int

        init(streams: Int, events: Int) {
            self.events = events
            state = Mutex(
                State(counts: Array(repeating: 0, count: streams), completed: Array(repeating: nil, count: streams)))
        }

        func subscribed() {
            state.withLock { $0.subscribed += 1 }
            changed.signal()
        }

        func received(_ count: Int, stream: Int) {
            let done = state.withLock { state -> Bool in
                state.counts[stream] += count
                guard state.counts[stream] >= events, state.completed[stream] == nil else { return false }
                state.completed[stream] = .now
                return true
            }
            if done { changed.signal() }
        }

        /// Waits until `condition` holds (or `timeout` passes); returns whether it held.
        func wait(timeout: Duration, _ condition: (State) -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let generation = changed.generation
                if state.withLock({ condition($0) }) { return true }
                await changed.wait(after: generation, timeout: .milliseconds(200))
            }
            return state.withLock { condition($0) }
        }
    }

    /// Counts `event: job.changed` lines in one stream's body (a line may straddle two reads).
    final class Counter: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let stream: Int
        let tracker: Tracker
        var carry: [UInt8] = []
        var subscribed = false
        static let marker = Array("event: job.changed".utf8)

        init(stream: Int, tracker: Tracker) {
            self.stream = stream
            self.tracker = tracker
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .body(let buffer) = unwrapInboundIn(data) else { return }
            if !subscribed {
                subscribed = true  // the preamble comes once the server has subscribed the stream
                tracker.subscribed()
            }
            let bytes = carry + (buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [])
            var count = 0
            var index = 0
            let marker = Self.marker
            while index + marker.count <= bytes.count {
                if bytes[index] == marker[0], bytes[index..<index + marker.count].elementsEqual(marker) {
                    count += 1
                    index += marker.count
                } else {
                    index += 1
                }
            }
            carry = Array(bytes.suffix(marker.count - 1))
            if count > 0 { tracker.received(count, stream: stream) }
        }
    }

    static func run(host: String, port: Int, token: String, streams: Int, events: Int, database: Database)
        async throws -> Outcome
    {
        let tracker = Tracker(streams: streams, events: events)
        var channels: [any Channel] = []
        defer { for channel in channels { channel.close(promise: nil) } }
        for stream in 0..<streams {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(Counter(stream: stream, tracker: tracker))
                    }
                }
                .connect(host: host, port: port).get()
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/events?types=job")
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Authorization", value: "Bearer \(token)")
            head.headers.add(name: "Accept", value: "text/event-stream")
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            channels.append(channel)
        }
        guard await tracker.wait(timeout: .seconds(60), { $0.subscribed == streams }) else {
            throw CLIFailure("only \(tracker.state.withLock { $0.subscribed }) of \(streams) streams subscribed")
        }
        let start = ContinuousClock.now
        for index in 0..<events {
            try await database.events.publish(
                namespace: "bench", type: "job.changed", jobUID: "bench", data: JSONDocument(text: #"{"n":\#(index)}"#))
        }
        guard await tracker.wait(timeout: .seconds(120), { !$0.completed.contains(nil) }) else {
            let counts = tracker.state.withLock { $0.counts }
            throw CLIFailure("streams stalled: \(counts.filter { $0 < events }.count) short of \(events) events")
        }
        let times = tracker.state.withLock { $0.completed.compactMap { $0.map { ($0 - start).seconds } } }.sorted()
        return Outcome(last: times.last ?? 0, median: times[times.count / 2])
    }
}
