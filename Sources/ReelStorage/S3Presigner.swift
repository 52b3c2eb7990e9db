import Crypto
import FoundationEssentials
import ReelSupport

extension S3Store {
    /// A presigned GET URL for `key` (SigV4 query signing; libcurl signs requests but does not presign), valid for
    /// `expires` (at most 7 days, S3's limit) from `now`.
    public func presignedGET(_ key: String, expires: Duration, now: Date = Date()) async throws -> String {
        try ObjectStores.validate(key)
        let seconds = Int(expires.seconds)
        guard (1...604_800).contains(seconds) else {
            throw StorageError(.unsupported, "a presigned URL lasts 1 second to 7 days, not \(seconds) s", key: key)
        }
        let credentials = try await client.credentials.credentials()
        return S3Presigner.url(
            location.url(objectKey: objectKey(key)), region: location.region, credentials: credentials,
            expires: seconds, now: now)
    }
}

/// SigV4 query signing ("presigning") of a GET, as S3 documents it.
enum S3Presigner {
    static func url(_ objectURL: String, region: String, credentials: AWSCredentials, expires: Int, now: Date) -> String
    {
        let components = URLComponents(string: objectURL)!
        let host = components.host! + (components.port.map { ":\($0)" } ?? "")
        let stamp = timestamp(now)
        let day = String(stamp.prefix(8))
        let scope = "\(day)/\(region)/s3/aws4_request"
        var parameters = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            ("X-Amz-Date", stamp), ("X-Amz-Expires", "\(expires)"), ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        let query = S3Location.query(parameters)
        let canonical = ["GET", components.percentEncodedPath, query, "host:\(host)", "", "host", "UNSIGNED-PAYLOAD"]
            .joined(separator: "\n")
        let toSign = ["AWS4-HMAC-SHA256", stamp, scope, sha256Hex(canonical)].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = hexString(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        return "\(objectURL)?\(query)&X-Amz-Signature=\(signature)"
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return cFormat("%04ld%02ld%02ldT%02ld%02ld%02ldZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}
