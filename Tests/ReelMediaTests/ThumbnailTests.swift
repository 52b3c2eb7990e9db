import Foundation
import ReelMedia
import ReelSupport
import ReelTestSupport
import Testing

/// Thumbnails for the dashboard's scene strip: the frame shown at the time asked (what `ffmpeg -ss T` decodes),
/// as a small JPEG from libavcodec's MJPEG encoder.
@Suite struct ThumbnailTests {
    /// PSNR (dB) of image `a` against `b`, by FFmpeg's own filter.
    static func psnr(_ a: String, _ b: String) async throws -> Double {
        let run = try await ProcessRunner.capture(
            "/usr/bin/ffmpeg", ["-hide_banner", "-i", a, "-i", b, "-lavfi", "psnr", "-f", "null", "-"])
        let line = run.stderr.split(separator: "\n").first { $0.contains("average:") } ?? ""
        let value = line.split(separator: " ").first { $0.hasPrefix("average:") }?.dropFirst("average:".count) ?? ""
        return value == "inf" ? .infinity : Double(value) ?? 0
    }

    @Test func theFrameAtATimeAsASmallJPEG() async throws {
        let directory = try TemporaryDirectory(prefix: "thumbs")
        let video = try await SampleMedia.sample(in: directory, seconds: 8)  // cuts every 2 s, 320x240
        for (seconds, name) in [(5.0, "five"), (1.0, "one"), (7.96, "last"), (60.0, "past")] {
            let jpeg = try await MediaEngine.thumbnail(video, at: seconds, width: 160)
            #expect(jpeg.prefix(2) == [0xFF, 0xD8] && jpeg.suffix(2) == [0xFF, 0xD9], "\(name) is not a JPEG")
            #expect(jpeg.count < 20_000)
            try Data(jpeg).write(to: URL(fileURLWithPath: directory.path("\(name).jpg")))
        }
        let shape = try await SampleMedia.ffprobe([
            "-select_streams", "v", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0",
            directory.path("five.jpg"),
        ])
        #expect(shape == ["mjpeg,160,120"])
        // The reference: FFmpeg's frame-accurate seek to the same time, scaled alike.
        try await SampleMedia.ffmpeg([
            "-ss", "5", "-i", video, "-frames:v", "1", "-vf", "scale=160:120", directory.path("reference.png"),
        ])
        let same = try await Self.psnr(directory.path("five.jpg"), directory.path("reference.png"))
        let other = try await Self.psnr(directory.path("one.jpg"), directory.path("reference.png"))
        #expect(same > 28, "the thumbnail at 5 s is not the frame at 5 s (PSNR \(same) dB)")
        #expect(other < same - 10, "a frame of another scene scored \(other) dB against \(same) dB")
        // Past the end: the last frame.
        #expect(try await Self.psnr(directory.path("past.jpg"), directory.path("last.jpg")) > 40)
    }
}
