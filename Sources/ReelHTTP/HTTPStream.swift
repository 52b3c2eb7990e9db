import CCurl
import FoundationEssentials
import Synchronization

/// What a streamed response delivers: its head once, then its body as it arrives.
public enum HTTPStreamEvent: Sendable {
    case head(status: Int, headers: [(name: String, value: String)])
    case data(Data)
}

/// The state a streaming transfer shares with libcurl's callbacks. `@unchecked Sendable`: `handle` is used only
/// on the transfer's thread (in callbacks and after `curl_easy_perform`), and the mutable state is behind a Mutex;
/// the consumer's side only sets `cancelled` through `onTermination`.
private final class StreamSink: @unchecked Sendable {
    let continuation: AsyncThrowingStream<HTTPStreamEvent, any Error>.Continuation
    let state = Mutex((headerLines: [String](), headSent: false, cancelled: false))
    let handle: UnsafeMutableRawPointer

    init(_ continuation: AsyncThrowingStream<HTTPStreamEvent, any Error>.Continuation, handle: UnsafeMutableRawPointer)
    {
        self.continuation = continuation
        self.handle = handle
    }

    var cancelled: Bool { state.withLock { $0.cancelled } }

    /// Yields the head once, before the first body bytes (or at the end of an empty body).
    func sendHead() {
        let lines = state.withLock { state -> [String]? in
            guard !state.headSent else { return nil }
            state.headSent = true
            return state.headerLines
        }
        guard let lines else { return }
        var status = 0
        reel_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let headers = HTTPResponse.headers(lines)
        continuation.yield(.head(status: status, headers: headers))
    }
}

extension HTTPClient {
    /// Streams a response (a Kubernetes watch): `.head` once, then `.data` chunks as they arrive, until the
    /// server ends the body, the transfer fails (the stream throws `HTTPError`), or the consumer stops
    /// iterating (the transfer is aborted within about a second, even when no data flows).
    public static func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamEvent, any Error> {
        _ = globalInit
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: HTTPStreamEvent.self, throwing: (any Error).self)
        guard let easy = try? EasyHandle() else {
            continuation.finish(throwing: HTTPError(.transport, "curl_easy_init failed", url: redacted(request.url)))
            return stream
        }
        let sink = StreamSink(continuation, handle: easy.handle)
        continuation.onTermination = { _ in sink.state.withLock { $0.cancelled = true } }
        onThread {
            let context = Unmanaged.passRetained(sink)
            defer { context.release() }
            let list = headerList(request)
            defer { curl_slist_free_all(list) }
            var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
            let h = easy.handle
            let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
                configure(h, request, headers: list)
                reel_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
                reel_curl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())
                reel_curl_setopt_write_callback(h, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                    let sink = Unmanaged<StreamSink>.fromOpaque(context!).takeUnretainedValue()
                    if sink.cancelled { return 0 }
                    sink.sendHead()
                    let bytes = size * count
                    if let data, bytes > 0 { sink.continuation.yield(.data(Data(bytes: data, count: bytes))) }
                    return bytes
                }
                reel_curl_setopt_pointer(h, CURLOPT_HEADERDATA, context.toOpaque())
                reel_curl_setopt_write_callback(h, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                    let sink = Unmanaged<StreamSink>.fromOpaque(context!).takeUnretainedValue()
                    let bytes = size * count
                    if let data {
                        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: bytes), as: UTF8.self)
                        sink.state.withLock { state in
                            if line.hasPrefix("HTTP/") { state.headerLines.removeAll() }
                            state.headerLines.append(line)
                        }
                    }
                    return bytes
                }
                // Called about once a second even while idle: lets a cancelled watch end without waiting for data.
                reel_curl_setopt_long(h, CURLOPT_NOPROGRESS, 0)
                reel_curl_setopt_pointer(h, CURLOPT_XFERINFODATA, context.toOpaque())
                reel_curl_setopt_xferinfo_callback(h) { context, _, _, _, _ in
                    Unmanaged<StreamSink>.fromOpaque(context!).takeUnretainedValue().cancelled ? 1 : 0
                }
                return curl_easy_perform(h)
            }
            withExtendedLifetime(easy) {}
            if sink.cancelled {
                continuation.finish()
            } else if code == CURLE_OK {
                sink.sendHead()
                continuation.finish()
            } else {
                continuation.finish(
                    throwing: HTTPError(.transport, curlMessage(code, errorBuffer), url: redacted(request.url)))
            }
        }
        return stream
    }
}
