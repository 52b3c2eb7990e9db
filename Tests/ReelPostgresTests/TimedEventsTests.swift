import ReelTestSupport
import Testing

/// The time limit the stream tests rely on.
@Suite("TimedEvents")
struct TimedEventsTests {
    struct Boom: Error {}

    @Test func deliversInOrderEndsAndTimesOut() async throws {
        let (stream, sink) = AsyncStream.makeStream(of: Int.self)
        let events = TimedEvents(stream, limit: .milliseconds(200))
        sink.yield(1)
        sink.yield(2)
        #expect(try await events.next() == 1)
        #expect(try await events.next() == 2)
        await #expect(throws: TimeLimitExceeded.self) { try await events.next() }
        sink.yield(3)
        #expect(try await events.next(within: .seconds(30)) == 3)
        sink.finish()
        #expect(try await events.next() == nil)
    }

    @Test func passesTheSequencesErrorOn() async throws {
        let (stream, sink) = AsyncThrowingStream.makeStream(of: Int.self)
        let events = TimedEvents(stream, limit: .seconds(30))
        sink.yield(7)
        sink.finish(throwing: Boom())
        #expect(try await events.next() == 7)
        await #expect(throws: Boom.self) { try await events.next() }
    }
}
