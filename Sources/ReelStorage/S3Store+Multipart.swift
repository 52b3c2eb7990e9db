import FoundationEssentials
import ReelHTTP
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension S3Store {
    /// Uploads a file in parts: initiate, `partConcurrency` parts at a time (each retried by the client),
    /// complete with the parts' ETags — or abort, so that a failed upload leaves no parts behind.
    func uploadMultipart(_ objectKey: String, path: String, size: Int) async throws {
        let uploadID = try await initiateUpload(objectKey)
        // S3 allows 10,000 parts: grow the parts for very large files.
        let partSize = max(self.partSize, (size + 9_999) / 10_000)
        let parts = stride(from: 0, to: size, by: partSize).enumerated().map { index, offset in
            (number: index + 1, slice: FileSlice(path: path, offset: offset, length: min(partSize, size - offset)))
        }
        do {
            var etags: [Int: String] = [:]
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var next = parts.makeIterator()
                func start() -> Bool {
                    guard let part = next.next() else { return false }
                    group.addTask {
                        let etag = try await uploadPart(
                            objectKey, uploadID: uploadID, number: part.number, slice: part.slice)
                        return (part.number, etag)
                    }
                    return true
                }
                for _ in 0..<max(1, partConcurrency) where !start() { break }
                while let (number, etag) = try await group.next() {
                    etags[number] = etag
                    _ = start()
                }
            }
            if stopBeforeComplete { raise(SIGSTOP) }
            try await completeUpload(objectKey, uploadID: uploadID, parts: etags.sorted { $0.key < $1.key })
        } catch {
            // The abandoned-upload pass catches a failure here.
            _ = try? await abortUpload(objectKey, uploadID: uploadID)
            throw error
        }
    }

    /// Starts a multipart upload; returns its id.
    func initiateUpload(_ objectKey: String) async throws -> String {
        let initiated = try await client.send(.init(method: "POST", objectKey: objectKey, query: [("uploads", "")]))
        guard let uploadID = S3XML.parse(initiated.body)?.text("UploadId") else {
            throw StorageError(.ioError, "CreateMultipartUpload answered without an UploadId", key: objectKey)
        }
        return uploadID
    }

    /// Uploads part `number` from `slice`; returns its ETag.
    func uploadPart(_ objectKey: String, uploadID: String, number: Int, slice: FileSlice) async throws -> String {
        let response = try await client.send(
            .init(
                method: "PUT", objectKey: objectKey, query: [("partNumber", "\(number)"), ("uploadId", uploadID)],
                bodyFile: slice))
        guard let etag = response.header("ETag") else {
            throw StorageError(.ioError, "UploadPart \(number) answered without an ETag", key: objectKey)
        }
        return etag
    }

    /// Completes a multipart upload from its parts (number, ETag), in order.
    func completeUpload(_ objectKey: String, uploadID: String, parts: [(key: Int, value: String)]) async throws {
        let body =
            "<CompleteMultipartUpload>"
            + parts.map { "<Part><PartNumber>\($0.key)</PartNumber><ETag>\(S3XML.escape($0.value))</ETag></Part>" }
            .joined() + "</CompleteMultipartUpload>"
        _ = try await client.send(
            .init(
                method: "POST", objectKey: objectKey, query: [("uploadId", uploadID)],
                headers: [("Content-Type", "application/xml")], body: Data(body.utf8)))
    }

    /// Aborts an upload; false when S3 no longer knows it (completed, or aborted by someone else).
    @discardableResult
    func abortUpload(_ objectKey: String, uploadID: String) async throws -> Bool {
        let response = try await client.send(
            .init(method: "DELETE", objectKey: objectKey, query: [("uploadId", uploadID)], accept: [404]))
        return response.status != 404
    }

    /// Aborts the multipart uploads under the store's prefix started more than `age` ago (ones a killed worker
    /// left behind: their parts cost storage and never become objects); returns how many (not counting ones that
    /// went while it listed: another replica's pass, or a slow upload completing). Resumable uploads
    /// (under `resumablePrefix`) are spared: they last until their own expiry, and the upload cleanup ends them.
    @discardableResult
    public func abortAbandonedUploads(olderThan age: Duration, now: Date = Date()) async throws -> Int {
        var aborted = 0
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("prefix", location.prefix), ("uploads", "")]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let response = try await client.send(.init(method: "GET", objectKey: nil, query: query))
            guard let root = S3XML.parse(response.body) else {
                throw StorageError(.ioError, "ListMultipartUploads answered something that is not XML", key: "")
            }
            for upload in root.all("Upload") {
                guard let key = upload.text("Key"), let id = upload.text("UploadId") else { continue }
                let started = upload.text("Initiated").flatMap(Self.parseTime) ?? .distantPast
                guard now.timeIntervalSince(started) >= age.seconds, !key.hasPrefix(objectKey(Self.resumablePrefix))
                else { continue }
                if try await abortUpload(key, uploadID: id) { aborted += 1 }
            }
            if root.text("IsTruncated") == "true", let key = root.text("NextKeyMarker"),
                let upload = root.text("NextUploadIdMarker")
            {
                markers = (key, upload)
            } else {
                markers = nil
            }
        } while markers != nil
        return aborted
    }

    /// S3's timestamps: ISO 8601, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
