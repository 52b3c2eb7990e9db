import CFFmpeg
import Foundation
import ReelTestSupport
import Testing

@testable import ReelMedia

/// Where a container keeps no index (MPEG-TS), a seek by time lands where FFmpeg estimates, often on a frame that is
/// no keyframe. Scene detection's stretches and second looks start on keyframes there too: found by reading
/// packets, and reached by the byte their packet starts at (`KeyframeTable`).
@Suite("Keyframes of a file without an index")
struct KeyframeTableTests {
    @Test func theKeyframeAtOrBeforeATimeIsTheLastShownByThen() {
        var table = KeyframeTable()
        #expect(table.isEmpty && table.atOrBefore(10) == nil)
        table.add(time: 1, position: 100)
        table.add(time: 3, position: 900)
        table.add(time: 2, position: 500)  // out of order: left out
        table.add(time: 5, position: -1)  // no position: left out
        table.add(time: 7, position: 2_000)
        #expect(table.atOrBefore(0.5) == nil)
        #expect(table.atOrBefore(1)?.position == 100)
        #expect(table.atOrBefore(2.9)?.position == 100)
        #expect(table.atOrBefore(6)?.position == 900)
        #expect(table.atOrBefore(100)?.position == 2_000)
    }

    /// The keyframes a pass reads, and where `SceneDetector.keyframe` puts a stretch's start, are the MP4's (less
    /// the transport stream's start time); a second look seeks to each by its byte and decodes from it, with no
    /// frame waiting for a keyframe.
    @Test func aTransportStreamsStretchesAndLooksStartOnTheKeyframesOfItsMP4() async throws {
        let dir = try TemporaryDirectory(prefix: "keyframes-ts")
        let (mp4, _) = try await SceneRecallTests.clip(in: dir, name: "clip.mp4", x264: "bframes=3")
        let ts = dir.path("clip.ts")
        try await SampleMedia.ffmpeg(["-i", mp4, "-c", "copy", "-f", "mpegts", ts])
        let keyframes = try await SampleMedia.ffprobe([
            "-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", mp4,
        ]).filter { $0.contains(",K") }.compactMap { Double($0.split(separator: ",")[0]) }.sorted()
        #expect(keyframes.count >= 5, "\(keyframes)")
        let found = try await MediaEngine.offload { () throws(MediaError) in
            let input = try InputFile(path: ts)
            guard let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO),
                let start = SceneDetector.timeRange(input, videoIndex)?.start
            else { throw MediaError(.unsupported, "no video or no start time", path: ts) }
            #expect(!input.hasIndex(videoIndex))
            // Where stretches would start: near a time in the middle of each GOP.
            let starts = keyframes.indices.dropFirst().dropLast().map { index in
                let middle = (keyframes[index] + keyframes[index + 1]) / 2
                return SceneDetector.keyframe(
                    input, videoIndex, near: start + middle, within: start, start + 60, indexed: false)
            }
            // The keyframes a pass read, and a look source that seeks to them.
            var looks = SceneDetector.PassLooks(threshold: 10, frameDuration: 0.04)
            let pass = try SceneDetector.measure(
                try InputFile(path: ts), videoIndex, width: 32, after: nil, through: nil, decodingFrom: nil,
                looks: &looks)
            let source = try SceneDetector.lookSource(ts, videoIndex, width: 32, keyframes: pass.keyframes)
            var landed: [(first: Double, dropped: Int)] = []
            for keyframe in keyframes.dropFirst() {
                #expect(source.seek(to: start + keyframe + 0.5))
                var first = -1.0
                try source.frames { (_, time) throws(MediaError) -> Bool in
                    first = time
                    return false
                }
                landed.append((first - start, source.droppedSinceSeek))
            }
            return (start, starts.map { $0.map { $0.time - start } }, landed)
        }
        #expect(found.0 > 0, "a transport stream starts after 0")
        let expectedStarts = keyframes.indices.dropFirst().dropLast().map { keyframes[$0] }
        #expect(found.1.map { $0.map { ($0 * 25).rounded() } } == expectedStarts.map { ($0 * 25).rounded() })
        for (keyframe, landed) in zip(keyframes.dropFirst(), found.2) {
            #expect((landed.first * 25).rounded() == (keyframe * 25).rounded(), "seek near \(keyframe) s")
            #expect(landed.dropped == 0, "seek near \(keyframe) s")
        }
    }
}
