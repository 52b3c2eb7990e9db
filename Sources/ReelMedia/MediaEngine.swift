import CFFmpeg
import Dispatch
import FoundationEssentials
import ReelSupport

/// Reel's media operations. Each runs on a thread of its own, never on Swift's cooperative threads nor on a shared
/// dispatch queue (on Linux Swift's tasks run on libdispatch's few threads, which long blocking work starves):
/// libavformat reads and writes files with blocking calls.
public enum MediaEngine {
    /// Why FFmpeg's libraries cannot be loaded, or nil once they are. They are opened on first use, not when the
    /// process starts (Sources/CFFmpeg/loader.c). FFmpeg logs to stderr at info level by default; Reel reports
    /// failures itself, so it keeps only errors.
    private static let unloadable: String? = {
        if let reason = reel_ffmpeg_load() { return String(cString: reason) }
        av_log_set_level(16 /* AV_LOG_ERROR */)
        return nil
    }()

    /// Loads FFmpeg's libraries unless they are; every file Reel opens with FFmpeg goes through here first.
    static func requireLibraries(for path: String) throws(MediaError) {
        if let unloadable { throw MediaError(.unsupported, "cannot load FFmpeg: \(unloadable)", path: path) }
    }

    /// The FFmpeg Reel runs on, as `reel version` prints it (this loads the libraries).
    public static var libraryVersion: String {
        if let unloadable { return "FFmpeg cannot be loaded: \(unloadable)" }
        let lavf = avformat_version()
        return "libavformat \(lavf >> 16).\((lavf >> 8) & 0xff).\(lavf & 0xff) (FFmpeg "
            + "\(String(cString: av_version_info())))"
    }

    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws(MediaError) -> T)
        async throws(MediaError) -> T
    {
        _ = unloadable
        return try await BlockingExecutor.media.run(work)
    }

    /// What `path` holds; with `keyframes`, also the video keyframe times (reads every packet).
    public static func probe(_ path: String, keyframes: Bool = false) async throws(MediaError) -> MediaInfo {
        try await offload { () throws(MediaError) in try InputFile(path: path).probe(keyframes: keyframes) }
    }

    /// Splits `path` by stream copy into chunks of about `targetSeconds` (each starting at the first video keyframe
    /// at or after its boundary, or earlier when it would pass `maxBytes`) written into `outputDirectory`.
    public static func split(
        _ path: String, targetSeconds: Double, maxBytes: Int = .max, outputDirectory: String
    ) async throws(MediaError) -> [Chunk] {
        guard targetSeconds > 0 else { throw MediaError(.unsupported, "targetSeconds must be positive", path: path) }
        do {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw MediaError(.ioError, "cannot create \(outputDirectory): \(describe(error))", path: path)
        }
        return try await offload { () throws(MediaError) in
            try Splitter(
                input: try InputFile(path: path), targetSeconds: targetSeconds, maxBytes: maxBytes,
                outputDirectory: outputDirectory
            ).run()
        }
    }

    /// Hard cuts and per-scene summaries, scored as FFmpeg's `scdet` scores them (`threshold` on its 0–100
    /// scale; 10 is scdet's default), with cuts closer than `minSceneSeconds` suppressed. The frames are decoded in
    /// `segments` stretches at once (by default one per core, each at least 20 s long); the result is the same as
    /// one pass's.
    public static func detectScenes(
        _ path: String, threshold: Double = 10, minSceneSeconds: Double = 0.5, segments: Int? = nil
    ) async throws(MediaError) -> SceneReport {
        try await offload { () throws(MediaError) in
            try SceneDetector(input: try InputFile(path: path), threshold: threshold, minSceneSeconds: minSceneSeconds)
                .run(segments: segments)
        }
    }

    /// Joins `cuts` into one MP4 at `output` (+faststart) as `options.mode` says: `exact` re-encodes every frame
    /// and is frame-accurate, `smart` re-encodes only around the cuts, `keyframe` stream-copies from the keyframe
    /// before each cut.
    public static func render(_ cuts: [CutRange], output: String, options: RenderOptions = RenderOptions())
        async throws(MediaError) -> RenderResult
    {
        try await offload { () throws(MediaError) in
            switch options.mode {
            case .exact: try ExactRenderer(cuts: cuts, output: output, options: options).run()
            case .smart: try SmartRenderer(cuts: cuts, output: output, options: options).run()
            case .keyframe: try KeyframeRenderer(cuts: cuts, output: output).run()
            }
        }
    }
}
