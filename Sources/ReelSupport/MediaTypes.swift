/// Media types by file name extension, for what Reel serves and uploads (renders, chunks, timelines).
public enum MediaTypes {
    /// The media type of a file named `path`, or `nil` when its extension is not one Reel writes or reads.
    public static func forPath(_ path: String) -> String? {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "mp4", "m4v": return "video/mp4"
        case "mov": return "video/quicktime"
        case "mkv": return "video/x-matroska"
        case "webm": return "video/webm"
        case "ts": return "video/mp2t"
        case "json", "otio": return "application/json"
        case "edl", "txt": return "text/plain; charset=utf-8"
        default: return nil
        }
    }
}
