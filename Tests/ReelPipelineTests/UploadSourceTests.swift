import Foundation
import ReelAPI
import ReelCore
import ReelStorage
import ReelStore
import ReelSupport
import ReelTestSupport
import Testing

@testable import ReelPipeline

/// `upload://<id>` sources: a complete upload of the job's own namespace is read in place (no copy in the store);
/// anything else fails the ingest for good, with the reason.
@Suite struct UploadSourceTests {
    @Test func uploadsAreReadInPlaceOnlyFromTheJobsOwnNamespaceOnceComplete() async throws {
        let fixture = try await PipelineTests.Fixture(prefix: "upload-source")
        let sample = try await SampleMedia.sample(in: fixture.directory, seconds: 2)
        let key = "uploads/default/ok/talk.mp4"
        _ = try await fixture.store.put(key, fromFile: sample)
        for (id, namespace, state) in [
            ("ok", "default", "complete"), ("theirs", "other", "complete"),
            ("half", "default", "receiving"), ("bad", "default", "invalid"),
        ] {
            try await fixture.pool.query(
                """
                INSERT INTO uploads (id, namespace, owner, filename, length, received, object_key, state, message)
                VALUES ($1, $2, 'me', 'talk.mp4', 10, 10, $3, $4, 'talk.mp4 is not a video Reel can read')
                """, [id, namespace, id == "ok" ? key : "uploads/\(namespace)/\(id)/talk.mp4", state])
        }
        for (id, reason) in [
            ("theirs", "SourceNotFound"), ("half", "SourceNotFound"), ("bad", "InvalidMedia"),
            ("nope", "SourceNotFound"),
        ] {
            let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "upload://\(id)")))
            let failure = try await fixture.run(job, .ingest)
            #expect(failure?.reason == reason && failure?.retryable == false, "\(id): \(String(describing: failure))")
        }
        let uid = UUID().uuidString.lowercased()
        let job = try await fixture.job(VideoJobSpec(source: SourceSpec(uri: "upload://ok")), uid: uid)
        #expect(try await fixture.run(job, .ingest) == nil)
        let row = try #require(try await fixture.database.jobs.job(job))
        #expect(row.sourceKey == key)
        #expect(row.sourceName == "talk.mp4")
        #expect(try await fixture.store.list(prefix: "jobs/\(uid)").isEmpty)  // nothing copied
        #expect(try await fixture.run(job, .split) == nil)
    }
}
