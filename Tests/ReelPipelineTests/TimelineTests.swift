import Foundation
import ReelAnalysis
import ReelTestSupport
import Testing
import ReelSupport

@testable import ReelPipeline

@Suite struct TimelineTests {
    static func scene(
        _ start: Double, _ end: Double, importance: Double = 0.5, luma: Double = 0.5, motion: Double = 0.02
    )
        -> SceneAnalysis
    {
        SceneAnalysis(
            start: start, end: end, importance: importance, description: "d", labels: ["balanced"],
            meanLuma: luma, motion: motion)
    }

    static func chunk(_ scenes: [SceneAnalysis], cuts: [Double] = []) -> ChunkAnalysis {
        ChunkAnalysis(analyzer: "local", model: "", summary: "", scenes: scenes, cuts: cuts, usage: AnalysisUsage())
    }

    @Test func aSceneCutInTwoByAChunkBoundaryIsJoinedAndRealCutsAreKept() {
        // Chunk 0: 0–4 s with a cut at 2; chunk 1: 4–8 s, whose first scene continues chunk 0's last one.
        let chunks: [(start: Double, analysis: ChunkAnalysis)] = [
            (0, Self.chunk([Self.scene(0, 2, luma: 0.2), Self.scene(2, 4, importance: 0.2, luma: 0.6)], cuts: [2])),
            (4, Self.chunk([Self.scene(0, 1, importance: 0.8, luma: 0.61), Self.scene(1, 4, luma: 0.9)], cuts: [1])),
        ]
        let scenes = TimelineBuilder.scenes(chunks)
        #expect(scenes.map { [$0.start, $0.end] } == [[0, 2], [2, 5], [5, 8]])
        #expect(scenes[1].importance == 0.4, "duration-weighted: (0.2·2 + 0.8·1) / 3")
    }

    @Test func aChunkBoundaryOnARealCutOrBetweenDifferentPicturesIsNotJoined() {
        let different: [(start: Double, analysis: ChunkAnalysis)] = [
            (0, Self.chunk([Self.scene(0, 4, luma: 0.2)])), (4, Self.chunk([Self.scene(0, 4, luma: 0.8)])),
        ]
        #expect(TimelineBuilder.scenes(different).count == 2)
        let cutThere: [(start: Double, analysis: ChunkAnalysis)] = [
            (0, Self.chunk([Self.scene(0, 4)], cuts: [4])), (4, Self.chunk([Self.scene(0, 4)])),
        ]
        #expect(TimelineBuilder.scenes(cutThere).count == 2)
    }

    @Test func highlightsKeepTheBestScenesThatFitInSourceOrder() {
        let scenes = [
            Self.scene(0, 4, importance: 0.3), Self.scene(4, 6, importance: 0.9), Self.scene(6, 12, importance: 0.8),
            Self.scene(12, 14, importance: 0.7), Self.scene(14, 20, importance: 0.1),
        ]
        let clips = TimelineBuilder.clips(scenes, strategy: "highlights", maxSeconds: 10)
        #expect(clips.map { [$0.start, $0.end] } == [[4, 6], [6, 12], [12, 14]])
        #expect(TimelineBuilder.clips(scenes, strategy: "scenes", maxSeconds: 10).count == 5)
        let trimmed = TimelineBuilder.clips([Self.scene(10, 40, importance: 1)], strategy: "highlights", maxSeconds: 5)
        #expect(trimmed.map { [$0.start, $0.end] } == [[10, 15]])
    }

    @Test func clipsAreWholeFramesAndHighlightsNeverPassMaxSeconds() throws {
        // Scene times as detection reports them (frame times of chunks shifted by chunk offsets): off the grid.
        var scenes: [SceneAnalysis] = []
        var t = 0.0
        var seed: UInt64 = 7
        for i in 0..<40 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let length = 0.7 + Double(seed >> 40 % 1000) / 1000 * 3.1 + 0.013
            scenes.append(Self.scene(t, t + length, importance: Double((i * 37) % 11) / 10))
            t += length
        }
        for rate in [25.0, 30000.0 / 1001, 60] {
            for maxSeconds in [5.0, 17.0, 30.0, 90.0] {
                let clips = TimelineBuilder.clips(
                    scenes, strategy: "highlights", maxSeconds: maxSeconds, frameRate: rate)
                let frames = clips.map { ($0.end * rate).rounded() - ($0.start * rate).rounded() }
                for clip in clips {
                    #expect(
                        abs(clip.start * rate - (clip.start * rate).rounded()) < 1e-6,
                        "start \(clip.start) off the grid")
                    #expect(abs(clip.end * rate - (clip.end * rate).rounded()) < 1e-6, "end \(clip.end) off the grid")
                }
                #expect(frames.reduce(0, +) <= (maxSeconds * rate).rounded(.down), "\(rate) fps, \(maxSeconds) s")
                #expect(clips.map(\.duration).reduce(0, +) <= maxSeconds + 1e-9)
                #expect(!clips.isEmpty)
                // OTIO counts the same frames.
                let timeline = Timeline(
                    name: "t", strategy: "highlights",
                    source: TimelineSource(uri: "file:///s.mp4", name: "s.mp4", duration: t, frameRate: rate),
                    clips: clips)
                let otio = try JSONSerialization.jsonObject(with: try TimelineWriters.otio(timeline)) as? [String: Any]
                let track = ((otio?["tracks"] as? [String: Any])?["children"] as? [[String: Any]])?.first
                let durations = (track?["children"] as? [[String: Any]] ?? []).compactMap {
                    (($0["source_range"] as? [String: Any])?["duration"] as? [String: Any])?["value"] as? Double
                }
                #expect(durations == frames)
            }
        }
        // A single scene longer than the budget is trimmed to whole frames within it.
        let trimmed = TimelineBuilder.clips(
            [Self.scene(10.013, 40, importance: 1)], strategy: "highlights", maxSeconds: 5, frameRate: 30)
        #expect(trimmed.count == 1)
        #expect(abs(trimmed[0].duration - 5) < 1e-9)
    }

    static let timeline = Timeline(
        name: "Keynote 2026", strategy: "highlights",
        source: TimelineSource(
            uri: "file:///store/jobs/u/source/talk.mp4", name: "talk.mp4", duration: 30, frameRate: 25),
        clips: [
            TimelineClip(start: 2, end: 4.5, importance: 0.9, description: "bright", labels: ["bright"]),
            TimelineClip(start: 10, end: 12, importance: 0.7, description: "dark", labels: ["dark"]),
        ])

    @Test func otioIsReadByOpenTimelineIOWithClipsAtTheRightSourceRanges() async throws {
        let directory = try TemporaryDirectory(prefix: "otio")
        let otio = directory.path("t.otio"), edl = directory.path("t.edl")
        try TimelineWriters.otio(Self.timeline).write(to: URL(fileURLWithPath: otio))
        try TimelineWriters.edl(Self.timeline).write(toFile: edl, atomically: true, encoding: .utf8)
        let script = """
            import sys, opentimelineio as otio
            t = otio.adapters.read_from_file(sys.argv[1])
            for c in t.tracks[0]:
                r = c.source_range
                print("otio", c.name, r.start_time.to_seconds(), r.duration.to_seconds(), c.media_reference.target_url)
            e = otio.adapters.read_from_file(sys.argv[2], adapter_name="cmx_3600", rate=25)
            for c in e.tracks[0]:
                r = c.source_range
                print("edl", c.name, r.start_time.to_seconds(), r.duration.to_seconds())
            """
        let result = try await ProcessRunner.capture(ReelPaths.python, ["-c", script, otio, edl])
        #expect(result.status == 0, "\(result.stderr)")
        // 4.5 s at 25 fps is frame 112.5, rounded to 113: both writers quantize to whole frames alike.
        #expect(
            result.lines == [
                "otio Scene 1 2.0 2.52 file:///store/jobs/u/source/talk.mp4",
                "otio Scene 2 10.0 2.0 file:///store/jobs/u/source/talk.mp4",
                "edl talk.mp4 2.0 2.52",
                "edl talk.mp4 10.0 2.0",
            ])
    }

    @Test func edlRecordTimesRunBackToBack() {
        let lines = TimelineWriters.edl(Self.timeline).split(separator: "\n")
        #expect(lines[0] == "TITLE: KEYNOTE 2026")
        #expect(lines.contains("001  AX       V     C        00:00:02:00 00:00:04:13 00:00:00:00 00:00:02:13"))
        #expect(lines.contains("002  AX       V     C        00:00:10:00 00:00:12:00 00:00:02:13 00:00:04:13"))
    }
}
