import Foundation
import ReelMedia
import ReelTestSupport
import Testing

/// `MediaEngine.verify`: a demux pass over every packet that refuses what `probe` alone lets through — a
/// fast-start MP4 cut in half (the header still declares the whole length) and one whose chunk-offset table is
/// overwritten — and passes whole files, files without declared stream lengths, and audio longer than video.
@Suite struct VerifyTests {
    /// A 10 s fast-start MP4 (the index before the media), H.264 and AAC.
    static func fastStart(_ directory: TemporaryDirectory) async throws -> String {
        let path = directory.path("whole.mp4")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "10",
            "-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart", "-shortest", path,
        ])
        return path
    }

    @Test func aWholeFilePassesWithItsVideoEndingWhereItsHeaderSays() async throws {
        let directory = try TemporaryDirectory(prefix: "verify")
        let result = try await MediaEngine.verify(try await Self.fastStart(directory))
        #expect(abs(result.videoEnd - 10) < 0.05 && result.declaredVideoDuration.map { abs($0 - 10) < 0.05 } == true)
        #expect(result.packets > 250)
    }

    @Test func aTruncatedFastStartFileIsRefusedThoughProbeAcceptsIt() async throws {
        let directory = try TemporaryDirectory(prefix: "verify")
        let whole = try Data(contentsOf: URL(fileURLWithPath: try await Self.fastStart(directory)))
        let truncated = directory.path("truncated.mp4")
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        let info = try await MediaEngine.probe(truncated)
        #expect(info.duration.map { abs($0 - 10) < 0.05 } == true, "probe reads the declared length")
        do {
            _ = try await MediaEngine.verify(truncated)
            Issue.record("a truncated file passed")
        } catch {
            #expect(error.code == .invalidData, "\(error)")
            #expect(error.message.contains("truncated") || error.message.contains("unreadable"), "\(error.message)")
        }
    }

    @Test func aDamagedIndexIsRefused() async throws {
        let directory = try TemporaryDirectory(prefix: "verify")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try await Self.fastStart(directory))))
        // The first track's chunk offsets ('stco' entries) overwritten: its samples point past the file.
        let stco = try #require(
            (0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)].elementsEqual("stco".utf8) })
        for i in (stco + 12)..<(stco + 212) { bytes[i] = 0xAB }
        let damaged = directory.path("damaged.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        await #expect(throws: MediaError.self) { _ = try await MediaEngine.verify(damaged) }
    }

    @Test func noFalseAlarmsWithoutDeclaredLengthsOrWithLongerAudio() async throws {
        let directory = try TemporaryDirectory(prefix: "verify")
        let mkv = directory.path("stream.mkv")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4", "-c:v", "libx264", mkv,
        ])
        #expect(abs(try await MediaEngine.verify(mkv).videoEnd - 4) < 0.1)
        let longAudio = directory.path("long-audio.mp4")
        try await SampleMedia.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i",
            "sine=duration=6", "-c:v", "libx264", "-c:a", "aac", longAudio,
        ])
        let result = try await MediaEngine.verify(longAudio)
        #expect(abs(result.videoEnd - 3) < 0.1)
    }
}
