import CFFmpeg
import Foundation
import ReelTestSupport
import Testing

@testable import ReelMedia

/// What scene detection reads from packets before decoding them: which frames others refer to (`PacketKinds`), and
/// where packet sizes make a cut likely (`LikelyCuts`).
@Suite("Likely cuts")
struct LikelyCutsTests {
    /// Packets `PacketKinds` calls references, and frames a decoder skipping non-reference frames gives.
    static func references(_ path: String) async throws -> (packets: Int, references: Int, decoded: Int) {
        try await MediaEngine.offload { () throws(MediaError) in
            let input = try InputFile(path: path)
            guard let videoIndex = input.bestStream(AVMEDIA_TYPE_VIDEO),
                let kinds = PacketKinds(input.stream(videoIndex).pointee.codecpar)
            else { throw MediaError(.unsupported, "no H.264 or HEVC video", path: path) }
            var packet = av_packet_alloc()
            defer { av_packet_free(&packet) }
            var (packets, references) = (0, 0)
            while av_read_frame(input.context, packet) >= 0 {
                defer { av_packet_unref(packet) }
                guard Int(packet!.pointee.stream_index) == videoIndex else { continue }
                packets += 1
                let bytes = UnsafeBufferPointer(start: packet!.pointee.data, count: Int(packet!.pointee.size))
                if kinds.kind(of: bytes)?.reference == true { references += 1 }
            }
            let source = try FrameSource(
                try InputFile(path: path), videoIndex, width: 32, skipping: AVDISCARD_NONREF, threads: 1)
            var decoded = 0
            try source.frames { (_, _) throws(MediaError) -> Bool in
                decoded += 1
                return true
            }
            return (packets, references, decoded)
        }
    }

    /// H.264 length-prefixed (MP4) and Annex B (MPEG-TS), HEVC length-prefixed: the packets read as references are
    /// exactly the frames the decoder keeps when it skips the others.
    @Test func referencePacketsAreTheFramesTheDecoderKeeps() async throws {
        let dir = try TemporaryDirectory(prefix: "packet-kinds")
        let (mp4, _) = try await SceneRecallTests.clip(in: dir, name: "clip.mp4", x264: "bframes=3:b-pyramid=normal")
        let ts = dir.path("clip.ts")
        try await SampleMedia.ffmpeg(["-i", mp4, "-c", "copy", ts])
        let hevc = dir.path("hevc.mp4")
        try await SampleMedia.ffmpeg([
            "-i", mp4, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
            "bframes=4:b-pyramid=1:log-level=error", hevc,
        ])
        for path in [mp4, ts, hevc] {
            let counted = try await Self.references(path)
            #expect(counted.packets == SceneRecallTests.lengths.reduce(0, +), "\(path)")
            #expect(counted.references < counted.packets, "\(path): no frame is skipped")
            #expect(counted.references == counted.decoded, "\(path): \(counted)")
        }
    }

    /// Reference packets of one kind in decoding order, 4 frames apart, each followed by the three non-reference
    /// frames shown before it.
    static func stream(sizes: [Int]) -> LikelyCuts {
        var cuts = LikelyCuts(frameDuration: 0.04)
        for (index, size) in sizes.enumerated() {
            cuts.read(.init(time: Double(index * 4) * 0.04, size: size, kind: 0, key: index == 0))
        }
        return cuts
    }

    /// The non-reference frames of the first `frames` that are decoded: for each likely cut, those shown between its
    /// reference frame and the one before, and the frame before that (a second look measures against it).
    static func decoded(_ cuts: LikelyCuts, frames: Int) -> [Int] {
        (0..<frames).filter { $0 % 4 != 0 && cuts.decodes(nonReferenceAt: Double($0) * 0.04) }
    }

    @Test func aReferenceFrameMuchDearerThanItsNeighboursOpensAWindow() {
        // A cut into busier content at frame 16; a cut into a still scene at frame 32 (dearer only than what follows).
        let cuts = Self.stream(sizes: [9000, 1000, 1100, 900, 6000, 1000, 950, 1050, 300, 30, 35, 30, 32])
        // Frames 24 and 28 are dear next to the still scene too: their windows are decoded for nothing, which costs
        // less than a cut missed (a second look decoding from the keyframe).
        #expect(Self.decoded(cuts, frames: 52) == [11, 13, 14, 15, 19, 21, 22, 23, 25, 26, 27, 29, 30, 31])
        // Steady content: nothing.
        let steady = Self.stream(sizes: [9000, 1000, 1100, 900, 1200, 1000, 950, 1050, 1000])
        #expect(Self.decoded(steady, frames: 36) == [])
    }
}
