import Foundation
import ReelSupport
import ReelTestSupport
import Synchronization
import Testing

@testable import ReelStorage

/// The S3 client's own behaviour: retries on throttling, what it signs and sends, web-identity credentials.
@Suite struct S3ClientTests {
    final class Seen: Sendable {
        let requests = Mutex<[TestHTTPRequest]>([])
    }

    /// `SlowDown` (503) is retried with backoff until the request goes through; the request is signed (SigV4,
    /// the body's SHA-256 as the payload hash) and the secret is nowhere in it.
    @Test func throttlingIsRetriedAndRequestsAreSignedWithoutTheSecret() async throws {
        let seen = Seen()
        let server = try TestHTTPServer { request in
            let count = seen.requests.withLock {
                $0.append(request)
                return $0.count
            }
            guard count > 2 else {
                let body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                return .response(status: 503, headers: [], body: Data(body.utf8))
            }
            return .response(status: 200, headers: [("ETag", "\"x\"")], body: Data())
        }
        defer { server.stop() }
        var client = S3Client(
            location: S3Location(bucket: "media", prefix: "p", region: "eu-west-1", endpoint: server.baseURL),
            credentials: AWSCredentialProvider(
                AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret", sessionToken: "token")))
        client.backoff = Backoff(initial: .milliseconds(10), maximum: .milliseconds(50))
        let store = S3Store(client: client)
        let stored = try await store.put("a.json", data: Data("{}".utf8))
        #expect(stored.uri == "s3://media/p/a.json")
        let requests = seen.requests.withLock { $0 }
        #expect(requests.count == 3)
        let last = try #require(requests.last)
        #expect(last.method == "PUT" && last.path == "/media/p/a.json" && last.body == Data("{}".utf8))
        #expect(last.header("x-amz-content-sha256") == sha256Hex("{}"))
        #expect(last.header("x-amz-security-token") == "token")
        let authorization = try #require(last.header("authorization"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"))
        #expect(authorization.contains("/eu-west-1/s3/aws4_request"))
        #expect(authorization.contains("x-amz-content-sha256") && authorization.contains("x-amz-security-token"))
        #expect(!requests.contains { "\($0.headers)\($0.target)".contains("very-secret") })
    }

    /// A server error that never ends is reported after the last attempt, with S3's code and message.
    @Test func persistentServerErrorsAreReportedWithS3sWords() async throws {
        let server = try TestHTTPServer { _ in
            let body =
                "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>"
                + "<RequestId>R1</RequestId></Error>"
            return .response(status: 500, headers: [], body: Data(body.utf8))
        }
        defer { server.stop() }
        var client = S3Client(
            location: S3Location(bucket: "media", region: "us-east-1", endpoint: server.baseURL),
            credentials: AWSCredentialProvider(AWSCredentials(accessKeyID: "a", secretAccessKey: "b")))
        client.attempts = 3
        client.backoff = Backoff(initial: .milliseconds(5), maximum: .milliseconds(20))
        await #expect {
            try await S3Store(client: client).get("x", toFile: FileManager.default.temporaryDirectory.path + "/never")
        } throws: { error in
            let error = error as? StorageError
            return error?.s3Code == "InternalError" && error?.code == .ioError
                && error?.message.contains("We encountered an internal error. (HTTP 500, request id R1)") == true
        }
    }

    /// `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`: the token is exchanged with STS (moto's) for temporary
    /// credentials, which are kept until five minutes before they expire.
    @Test func aWebIdentityTokenIsExchangedForTemporaryCredentials() async throws {
        let moto = try await MotoServer(authenticated: false)
        let directory = try TemporaryDirectory(prefix: "webidentity")
        let token = try directory.write("token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n")
        let provider = try AWSCredentialProvider.fromEnvironment([
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/reel-worker", "AWS_WEB_IDENTITY_TOKEN_FILE": token,
            "AWS_ENDPOINT_URL_STS": moto.endpoint,
        ])
        let first = try await provider.credentials()
        #expect(first.accessKeyID.hasPrefix("ASIA") && first.sessionToken?.isEmpty == false)
        let lifetime = try #require(first.expiration).timeIntervalSinceNow
        #expect(lifetime > 3000 && lifetime <= 3600, "\(lifetime)")
        #expect(try await provider.credentials() == first, "fresh credentials are reused")
        #expect(!"\(first)".contains(first.secretAccessKey))
        let store = S3Store(
            client: S3Client(
                location: S3Location(bucket: moto.bucket, region: "us-east-1", endpoint: moto.endpoint),
                credentials: provider))
        _ = try await store.put("web-identity.txt", data: Data("ok".utf8))
        #expect(try await store.head("web-identity.txt")?.bytes == 2)
    }
}
