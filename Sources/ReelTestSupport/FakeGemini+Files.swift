import Foundation
import Synchronization

extension FakeGemini {
    func startUpload(_ request: TestHTTPRequest) -> TestHTTPReply {
        guard request.header("x-goog-upload-protocol") == "resumable",
            request.header("x-goog-upload-command") == "start",
            let length = request.header("x-goog-upload-header-content-length").flatMap(Int.init),
            let mime = request.header("x-goog-upload-header-content-type")
        else { return error(400, "INVALID_ARGUMENT", "a resumable upload start needs the X-Goog-Upload-* headers") }
        guard let json = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
            let file = json["file"] as? [String: Any], let name = file["display_name"] as? String
        else { return error(400, "INVALID_ARGUMENT", "the start body must be {\"file\":{\"display_name\":…}}") }
        let id = state.withLock { state -> String in
            state.nextID += 1
            let id = "up\(state.nextID)"
            state.uploads[id] = Upload(length: length, mimeType: mime, displayName: name)
            return id
        }
        return .response(
            status: 200,
            headers: [
                ("X-Goog-Upload-URL", "\(endpoint)/upload/v1beta/files?upload_id=\(id)&upload_protocol=resumable"),
                ("X-Goog-Upload-Status", "active"), ("X-Goog-Upload-Chunk-Granularity", "\(granularity)"),
            ], body: Data())
    }

    func uploadCommand(_ id: String, _ request: TestHTTPRequest) -> TestHTTPReply {
        guard var upload = state.withLock({ $0.uploads[id] }) else { return error(404, "NOT_FOUND", "no upload \(id)") }
        let command = (request.header("x-goog-upload-command") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if command == ["query"] {
            return .response(
                status: 200,
                headers: [
                    ("X-Goog-Upload-Status", upload.finalized ? "final" : "active"),
                    ("X-Goog-Upload-Size-Received", "\(upload.received.count)"),
                ], body: Data())
        }
        guard command.first == "upload", command.count <= 2, command.count == 1 || command[1] == "finalize" else {
            return error(400, "INVALID_ARGUMENT", "unknown upload command \(command)")
        }
        guard !upload.finalized else { return error(400, "FAILED_PRECONDITION", "the upload is already finalized") }
        guard let offset = request.header("x-goog-upload-offset").flatMap(Int.init), offset == upload.received.count
        else {
            return error(400, "INVALID_ARGUMENT", "X-Goog-Upload-Offset must be \(upload.received.count)")
        }
        let finalize = command.count == 2
        // (A broken connection delivers a partial body; what arrived is kept, as the real service does.)
        let complete = request.body.count == Int(request.header("content-length") ?? "0") ?? 0
        if complete && !finalize && request.body.count % granularity != 0 {
            return error(
                400, "INVALID_ARGUMENT", "a chunk other than the last must be a multiple of \(granularity) bytes")
        }
        upload.received.append(request.body)
        if finalize && complete {
            guard upload.received.count == upload.length else {
                return error(
                    400, "INVALID_ARGUMENT", "finalized with \(upload.received.count) of \(upload.length) bytes")
            }
            upload.finalized = true
        }
        let finalized = upload.finalized
        let name = "files/\(id)"
        state.withLock { state in
            state.uploads[id] = upload
            if finalized { state.files[name] = FileEntry(mimeType: upload.mimeType, size: upload.length) }
        }
        guard finalized else {
            return .response(status: 200, headers: [("X-Goog-Upload-Status", "active")], body: Data())
        }
        return .json(
            200, ["file": fileJSON(name, state: "PROCESSING", size: upload.length, mime: upload.mimeType)],
            headers: [("X-Goog-Upload-Status", "final")])
    }

    func fileJSON(_ name: String, state: String, size: Int, mime: String) -> [String: Any] {
        ["name": name, "uri": "\(endpoint)/v1beta/\(name)", "mimeType": mime, "sizeBytes": "\(size)", "state": state]
    }

    func getFile(_ name: String) -> TestHTTPReply {
        guard
            let entry = state.withLock({ state -> FileEntry? in
                state.files[name]?.polls += 1
                return state.files[name]
            })
        else { return error(404, "NOT_FOUND", "no file \(name)") }
        let current = entry.polls > processingPolls ? "ACTIVE" : "PROCESSING"
        return .json(200, fileJSON(name, state: current, size: entry.size, mime: entry.mimeType))
    }
}
