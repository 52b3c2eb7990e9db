import FoundationEssentials
import ReelHTTP
import Synchronization
import ReelSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An access key, with the session token that temporary keys carry. `description` never shows the secret.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working.
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String { "AWSCredentials(\(accessKeyID), secret redacted)" }
}

/// Where credentials come from, in the usual order: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
/// (`AWS_SESSION_TOKEN`), then a web-identity token (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged
/// with STS `AssumeRoleWithWebIdentity` and exchanged again five minutes before expiry — how pods get
/// credentials on EKS).
public final class AWSCredentialProvider: Sendable {
    enum Source {
        case fixed(AWSCredentials)
        case webIdentity(roleARN: String, tokenFile: String, sessionName: String, stsEndpoint: String)
    }

    let source: Source
    private let cached = Mutex<AWSCredentials?>(nil)

    init(source: Source) { self.source = source }

    /// Fixed credentials (tests, and keys given explicitly).
    public convenience init(_ credentials: AWSCredentials) { self.init(source: .fixed(credentials)) }

    /// From the environment; fails, naming the variables, when none are set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(StorageError) -> AWSCredentialProvider
    {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw StorageError(
                    .unauthorized, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", key: "s3")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentialProvider(
                AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token))
        }
        if let role = environment["AWS_ROLE_ARN"], let file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"] {
            let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"]
            let endpoint =
                environment["AWS_ENDPOINT_URL_STS"]
                ?? region.map { "https://sts.\($0).amazonaws.com" } ?? "https://sts.amazonaws.com"
            return AWSCredentialProvider(
                source: .webIdentity(
                    roleARN: role, tokenFile: file,
                    sessionName: environment["AWS_ROLE_SESSION_NAME"] ?? "reel-\(getpid())",
                    stsEndpoint: endpoint))
        }
        throw StorageError(
            .unauthorized,
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and "
                + "AWS_WEB_IDENTITY_TOKEN_FILE", key: "s3")
    }

    /// Credentials valid for at least five more minutes.
    public func credentials() async throws -> AWSCredentials {
        switch source {
        case .fixed(let credentials):
            return credentials
        case .webIdentity(let role, let file, let session, let endpoint):
            if let current = cached.withLock({ $0 }),
                let expiration = current.expiration, expiration.timeIntervalSinceNow > 300
            {
                return current
            }
            let fresh = try await Self.assumeRole(role: role, tokenFile: file, session: session, endpoint: endpoint)
            cached.withLock { $0 = fresh }
            return fresh
        }
    }

    /// STS `AssumeRoleWithWebIdentity` (an unsigned call: the token is the proof).
    static func assumeRole(role: String, tokenFile: String, session: String, endpoint: String) async throws
        -> AWSCredentials
    {
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingWhitespace
        } catch {
            throw StorageError(.unauthorized, "cannot read the web identity token \(tokenFile): \(error)", key: "sts")
        }
        let form = S3Location.query([
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role),
            ("RoleSessionName", session), ("WebIdentityToken", token), ("DurationSeconds", "3600"),
        ])
        let response = try await HTTPClient.send(
            HTTPRequest(
                method: "POST", url: endpoint + "/",
                headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Data(form.utf8),
                timeout: .seconds(30)))
        let document = S3XML.parse(response.body)
        guard response.status == 200, let result = document?.first("Credentials") else {
            let error = document?.first("Error")
            throw StorageError(
                .unauthorized,
                "STS AssumeRoleWithWebIdentity for \(role) failed (HTTP \(response.status)): "
                    + "\(error?.text("Code") ?? "") \(error?.text("Message") ?? "")", key: "sts")
        }
        guard let key = result.text("AccessKeyId"), let secret = result.text("SecretAccessKey") else {
            throw StorageError(.unauthorized, "STS answered without credentials", key: "sts")
        }
        let expiration = result.text("Expiration").flatMap(S3Store.parseTime)
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: result.text("SessionToken"),
            expiration: expiration ?? Date().addingTimeInterval(900))
    }
}
