import FoundationEssentials
import ReelAPI
import ReelSupport

/// Writes a timeline as `timeline.json`, OpenTimelineIO JSON and a CMX 3600 EDL.
public enum TimelineWriters {
    /// Reel's own JSON (the `Timeline` value, keys sorted).
    public static func json(_ timeline: Timeline) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(timeline)
    }

    /// OpenTimelineIO JSON: a `Timeline.1` whose `Stack.1` holds one video `Track.1` of `Clip.2`s, each with an
    /// `ExternalReference.1` to the source. Times are `RationalTime.1` at the source frame rate.
    public static func otio(_ timeline: Timeline) throws -> Data {
        let rate = timeline.source.frameRate > 0 ? timeline.source.frameRate : 25
        // Whole frames: start and end are each rounded, the duration is their difference (as the EDL counts).
        func frames(_ seconds: Double) -> Double { (seconds * rate).rounded() }
        func time(_ frames: Double) -> JSONValue {
            ["OTIO_SCHEMA": "RationalTime.1", "rate": .double(rate), "value": .double(frames)]
        }
        func range(_ start: Double, _ end: Double) -> JSONValue {
            [
                "OTIO_SCHEMA": "TimeRange.1", "start_time": time(frames(start)),
                "duration": time(frames(end) - frames(start)),
            ]
        }
        let clips: [JSONValue] = timeline.clips.enumerated().map { index, clip in
            [
                "OTIO_SCHEMA": "Clip.2",
                "name": .string("Scene \(index + 1)"),
                "metadata": [
                    "reel": [
                        "importance": .double(clip.importance), "description": .string(clip.description),
                        "labels": .array(clip.labels.map(JSONValue.string)),
                    ]
                ],
                "source_range": range(clip.start, clip.end),
                "effects": [], "markers": [], "enabled": true,
                "media_references": [
                    "DEFAULT_MEDIA": [
                        "OTIO_SCHEMA": "ExternalReference.1", "name": .string(timeline.source.name), "metadata": [:],
                        "target_url": .string(timeline.source.uri),
                        "available_range": range(0, timeline.source.duration),
                        "available_image_bounds": .null,
                    ]
                ],
                "active_media_reference_key": "DEFAULT_MEDIA",
            ]
        }
        let track: JSONValue = [
            "OTIO_SCHEMA": "Track.1", "name": "Video", "kind": "Video", "metadata": [:],
            "source_range": .null, "effects": [], "markers": [], "enabled": true, "children": .array(clips),
        ]
        let document: JSONValue = [
            "OTIO_SCHEMA": "Timeline.1", "name": .string(timeline.name),
            "metadata": ["reel": ["strategy": .string(timeline.strategy)]],
            "global_start_time": .null,
            "tracks": [
                "OTIO_SCHEMA": "Stack.1", "name": "tracks", "metadata": [:], "source_range": .null,
                "effects": [], "markers": [], "enabled": true, "children": [track],
            ],
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(document)
    }

    /// A CMX 3600 EDL: one cut event per clip on reel `AX` (the source named by a `FROM CLIP NAME` comment),
    /// non-drop-frame timecode at the source's whole frame rate, record times back to back from 00:00:00:00.
    public static func edl(_ timeline: Timeline) -> String {
        let fps = max(1, Int(timeline.source.frameRate.rounded()))
        func timecode(_ frames: Int) -> String {
            let f = frames % fps, s = frames / fps % 60, m = frames / fps / 60 % 60, h = frames / fps / 3600
            return cFormat("%02ld:%02ld:%02ld:%02ld", h, m, s, f)
        }
        let title = timeline.name.uppercased().filter { $0.isASCII && !$0.isNewline }.prefix(70)
        var lines = ["TITLE: \(title)", "FCM: NON-DROP FRAME", ""]
        var record = 0
        for (index, clip) in timeline.clips.enumerated() {
            let sourceIn = Int((clip.start * Double(fps)).rounded())
            let sourceOut = Int((clip.end * Double(fps)).rounded())
            guard sourceOut > sourceIn else { continue }
            let length = sourceOut - sourceIn
            lines.append(
                cFormat("%03ld  AX       V     C        ", index + 1)
                    + "\(timecode(sourceIn)) \(timecode(sourceOut)) \(timecode(record)) \(timecode(record + length))")
            lines.append("* FROM CLIP NAME: \(timeline.source.name)")
            lines.append("")
            record += length
        }
        return lines.joined(separator: "\n")
    }
}
