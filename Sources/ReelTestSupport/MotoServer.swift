import Foundation
import ReelSupport

#if canImport(Glibc)
    import Glibc
#endif

/// moto's standalone S3 server (PyPI `moto[server]`) on a free loopback port, with authentication enforced: the
/// first four calls (create an IAM user, give it a policy and a key, create the bucket) go unauthenticated, every
/// later one must carry a valid SigV4 signature of that user's key.
public final class MotoServer: Sendable {
    public let endpoint: String
    public let bucket: String
    public let accessKeyID: String
    public let secretAccessKey: String
    let process: BackgroundProcess

    /// Starts a server, sets up the user and the bucket. `authenticated: false` leaves auth off (moto answers
    /// presigned URLs only then).
    public init(bucket: String = "reel-test", authenticated: Bool = true) async throws {
        // Port 0: moto binds a port the kernel picks and names it (" * Running on http://127.0.0.1:PORT"). A port
        // chosen beforehand could be taken by another test's server before moto binds it; moto then exits, and
        // that other server answered the check that moto listens.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(UUID().uuidString).log").path
        process = try BackgroundProcess(
            ReelPaths.python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            environment: authenticated ? ["INITIAL_NO_AUTH_ACTION_COUNT": "4"] : [:], outputPath: log)
        let port: Int
        do {
            port = try await process.announcedPort(after: "Running on http://127.0.0.1", timeout: .seconds(60))
        } catch {
            process.send(SIGKILL)
            throw error
        }
        endpoint = "http://127.0.0.1:\(port)"
        self.bucket = bucket
        let setup = try await ProcessRunner.capture(ReelPaths.python, ["-c", Self.setupScript, endpoint, bucket])
        let words = setup.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
        guard setup.status == 0, words.count == 2 else {
            process.send(SIGKILL)
            throw SampleMedia.Failure(description: "moto setup failed: \(setup.stdout) \(setup.stderr)")
        }
        accessKeyID = words[0]
        secretAccessKey = words[1]
    }

    deinit { process.send(SIGKILL) }

    /// Stops the server.
    public func stop() async {
        process.send(SIGTERM)
        _ = await process.wait()
    }

    /// `s3://BUCKET/PREFIX?endpoint=…` for this server.
    public func storageURL(prefix: String = "") -> String {
        "s3://\(bucket)/\(prefix)?region=us-east-1&endpoint=\(endpoint)"
    }

    /// The environment that gives a Reel process (or boto3) this server's credentials.
    public var environment: [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_REGION": "us-east-1"]
    }

    /// Runs a Python script with `s3` (a boto3 client of this server, this user) and `bucket` defined; returns
    /// what it printed.
    public func boto3(_ script: String) async throws -> String {
        let prelude = """
            import boto3, sys
            s3 = boto3.client("s3", endpoint_url=\(Self.python(endpoint)), region_name="us-east-1",
                aws_access_key_id=\(Self.python(accessKeyID)), aws_secret_access_key=\(Self.python(secretAccessKey)))
            bucket = \(Self.python(bucket))

            """
        let result = try await ProcessRunner.capture(ReelPaths.python, ["-c", prelude + script])
        guard result.status == 0 else {
            throw SampleMedia.Failure(description: "boto3 script failed: \(result.stderr)")
        }
        return result.stdout
    }

    /// `text` as a Python string literal (paths and keys in boto3 snippets).
    public static func python(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Four unauthenticated calls: the user, its policy, its key, the bucket (with the new key).
    static let setupScript = """
        import boto3, json, sys
        endpoint, bucket = sys.argv[1], sys.argv[2]
        common = dict(endpoint_url=endpoint, region_name="us-east-1")
        iam = boto3.client("iam", aws_access_key_id="setup", aws_secret_access_key="setup", **common)
        iam.create_user(UserName="reel")
        iam.put_user_policy(UserName="reel", PolicyName="everything", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="reel")["AccessKey"]
        s3 = boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
            **common)
        s3.create_bucket(Bucket=bucket)
        print(key["AccessKeyId"], key["SecretAccessKey"])
        """
}
