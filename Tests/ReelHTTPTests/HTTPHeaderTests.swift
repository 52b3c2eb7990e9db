import Foundation
import Testing

@testable import ReelHTTP

@Suite struct HTTPHeaderTests {
    @Test func headerLinesBecomeTrimmedFieldsWithoutTheStatusLine() {
        let fields = HTTPResponse.headers([
            "HTTP/1.1 429 Too Many Requests\r\n", "Retry-After:  7 \r\n", "X-A: b:c\r\n",
        ])
        #expect(fields.map(\.name) == ["Retry-After", "X-A"])
        #expect(fields.map(\.value) == ["7", "b:c"])
    }

    /// `Retry-After` as seconds or as an IMF-fixdate; anything else is ignored.
    @Test func retryAfterReadsSecondsAndHTTPDates() {
        #expect(HTTPResponse.httpDate("Sun, 06 Nov 1994 08:49:37 GMT")?.timeIntervalSince1970 == 784_111_777)
        #expect(HTTPResponse.httpDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPResponse.httpDate("Sun, 06 Nov 1994 08:49 GMT") == nil)
        let seconds = HTTPResponse(status: 429, headers: [("retry-after", "2")], body: Data())
        #expect(seconds.retryAfter == .seconds(2))
        let later = Date().addingTimeInterval(30)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: later)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        let text =
            "\(days[parts.weekday! - 1]), \(two(parts.day)) \(months[parts.month! - 1]) \(parts.year!) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) GMT"
        let dated = HTTPResponse(status: 503, headers: [("Retry-After", text)], body: Data())
        let wait = dated.retryAfter.map { Double($0.components.seconds) } ?? -1
        #expect(wait > 20 && wait <= 30, "\(text) → \(wait)")
        #expect(HTTPResponse(status: 503, headers: [("Retry-After", "soon")], body: Data()).retryAfter == nil)
    }
}
