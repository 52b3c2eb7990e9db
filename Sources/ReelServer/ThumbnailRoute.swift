import Foundation
import Hummingbird
import NIOCore
import ReelMedia
import ReelStorage
import ReelAPI
import ReelStore

/// `GET /api/jobs/{job}/thumbnails/{t}`: a small JPEG of the job's source at `t` seconds (the dashboard's scene
/// strip), decoded from the stored source where it lies (a file, or S3 through a presigned URL) and encoded with
/// libavcodec's MJPEG encoder; `width` (16–640, default 320) bounds its size.
extension APIHandlers {
    func registerThumbnails(_ api: RouterGroup<APIContext>) {
        api.get("jobs/:job/thumbnails/:t") { request, context in try await thumbnail(request, context) }
    }

    func thumbnail(_ request: Request, _ context: APIContext) async throws -> Response {
        let token = try context.caller()
        let stored = try await job(context)
        let text = context.parameters.get("t") ?? ""
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
            throw APIFailure.badRequest("t must be a time in seconds, not \"\(text.prefix(40))\"")
        }
        let width = try Self.integer(Query(request).raw("width"), name: "width", default: 320, range: 16...640)
        guard let source = try await database.tenant(token.namespace).source(ofJob: stored.uid) else {
            throw APIFailure.notFound("the source of job \(stored.key.name) (not ingested yet)")
        }
        if let duration = source.duration, seconds > duration {
            throw APIFailure.badRequest("t is \(seconds) s; the video lasts \(duration) s")
        }
        guard let store = files.store as? any PartialObjectStore else {
            throw APIFailure(.notImplemented, "NotImplemented", "this storage cannot be read in place")
        }
        let jpeg: [UInt8]
        do {
            jpeg = try await MediaEngine.thumbnail(
                try await store.readableLocation(source.key), at: seconds, width: width)
        } catch let error as MediaError {
            logger.warning("thumbnail of \(stored.key) at \(seconds) s: \(error.message)")
            throw APIFailure(.unprocessableContent, "InvalidMedia", "the source cannot be decoded at \(seconds) s")
        }
        return Response(
            status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=86400"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: jpeg)))
    }
}

extension OpenAPIDocument {
    static var thumbnailPaths: [String: JSONValue] {
        [
            "/api/jobs/{job}/thumbnails/{t}": [
                "parameters": [
                    parameter("job", in: "path", "The job's uid", string),
                    parameter("t", in: "path", "Seconds into the source", ["type": "number", "minimum": 0]),
                ],
                "get": operation(
                    "jobThumbnail", "A small JPEG of the job's source at t seconds",
                    parameters: [parameter("width", "The largest width in pixels", integer(16, 640))],
                    responses: [
                        "200": [
                            "description": "The frame shown at t",
                            "content": ["image/jpeg": ["schema": ["type": "string", "format": "binary"]]],
                        ],
                        "400": status, "404": status, "422": status,
                    ]),
            ]
        ]
    }
}
