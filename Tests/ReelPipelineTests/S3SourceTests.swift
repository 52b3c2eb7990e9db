import Foundation
import ReelAPI
import ReelCore
import ReelHTTP
import ReelPipeline
import ReelStorage
import ReelStore
import ReelTestSupport
import Testing

/// `s3://` sources read with a job's own credentials (`spec.source.credentialsSecretRef`), against moto with
/// authentication enforced: the right keys ingest the source, a wrong secret is S3's refusal, and without a
/// Secret reader (outside Kubernetes) the job is refused before anything is read.
@Suite(.serialized) struct S3SourceTests {
    @Test func aSourceIsReadWithTheCredentialsItsSecretHolds() async throws {
        let moto = try await MotoServer()
        let fixture = try await PipelineTests.Fixture(prefix: "s3source")
        let sample = try await SampleMedia.sample(in: fixture.directory, seconds: 2)
        _ = try await moto.boto3("s3.upload_file(\(MotoServer.python(sample)), bucket, 'in/clip.mp4')")
        let uri = "s3://\(moto.bucket)/in/clip.mp4?region=us-east-1&endpoint=\(moto.endpoint)"
        let spec = VideoJobSpec(source: SourceSpec(uri: uri, credentialsSecretRef: SecretRef(name: "source-keys")))
        func pipeline(secret: String?, policy: AddressPolicy = PipelineTests.Fixture.loopback) -> Pipeline {
            var configuration = PipelineConfiguration(
                allowedRoots: AllowedRoots([fixture.directory.url.path]),
                scratchDirectory: fixture.directory.path("scratch"))
            configuration.sourceAddresses = policy
            if let secret {
                configuration.secretReader = { namespace, ref in
                    #expect(namespace == "default" && ref.name == "source-keys")
                    switch ref.key {
                    case "AWS_ACCESS_KEY_ID": return moto.accessKeyID
                    case "AWS_SECRET_ACCESS_KEY": return secret
                    default: throw TaskFailure.permanent("SecretNotFound", "no key \(ref.key)")
                    }
                }
            }
            return Pipeline(database: fixture.database, store: fixture.store, configuration: configuration)
        }
        func ingest(_ pipeline: Pipeline) async throws -> TaskFailure? {
            let task = try await fixture.claim(try await fixture.job(spec), .ingest)
            do throws(TaskFailure) { try await pipeline.run(task) { _ in } } catch { return error }
            return nil
        }
        #expect(try await ingest(pipeline(secret: moto.secretAccessKey)) == nil)
        let wrong = try await ingest(pipeline(secret: "not-the-secret"))
        #expect(wrong?.reason == "SourceForbidden" && wrong?.message.contains("SignatureDoesNotMatch") == true)
        #expect(wrong?.message.contains("not-the-secret") == false)
        let outside = try await ingest(pipeline(secret: nil))
        #expect(outside?.reason == "SourceCredentialsUnavailable" && outside?.retryable == false)
        // The endpoint a job names is where the worker sends signed requests: by default not this machine.
        let guarded = try await ingest(pipeline(secret: moto.secretAccessKey, policy: AddressPolicy()))
        #expect(guarded?.reason == "SourceForbidden" && guarded?.retryable == false)
        #expect(guarded?.message.contains("127.0.0.1, a loopback address") == true, "\(guarded?.message ?? "")")
    }
}
