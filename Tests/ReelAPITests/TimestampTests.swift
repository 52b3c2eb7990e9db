import Foundation
import ReelAPI
import Testing

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    @Test func parsesTheFormsKubernetesWrites() throws {
        let utc = try #require(Timestamp(rfc3339: "2026-11-29T10:00:00Z"))
        #expect(utc.description == "2026-11-29T10:00:00Z")
        #expect(Timestamp(rfc3339: "2026-11-29T12:00:00+02:00") == utc)
        let micro = try #require(Timestamp(rfc3339: "2026-11-29T10:00:00.123456Z"))
        #expect(abs(micro.date.timeIntervalSince(utc.date) - 0.123456) < 0.001)
    }

    @Test(arguments: ["", "yesterday", "2026-11-29", "2026-11-29 10:00:00", "2026-13-01T00:00:00Z", "10:00:00Z"])
    func rejectsOtherText(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func writesWholeSecondsUTCAndRoundTrips() throws {
        let t = Timestamp(Date(timeIntervalSince1970: 1_800_000_000.75))
        #expect(t.description == "2027-01-15T08:00:00Z")
        let data = try JSONEncoder().encode([t])
        #expect(String(decoding: data, as: UTF8.self) == #"["2027-01-15T08:00:00Z"]"#)
        #expect(try JSONDecoder().decode([Timestamp].self, from: data) == [t])
    }
}
