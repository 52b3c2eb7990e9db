import Foundation
import ReelSupport
import Synchronization

/// Progress of several uploads: on a terminal, one redrawn line per file (bar, bytes, rate, ETA) a few times a
/// second; elsewhere (a pipe, CI) a plain line each time a file passes another 10 %.
final class UploadProgress: Sendable {
    struct Entry {
        var name: String
        var size: Int
        var done = 0
        /// Where this run started (bytes the server already had), for the rate.
        var start: Int?
        var started = ContinuousClock.now
        var decile = -1
        var note: String?
    }

    let entries: Mutex<[Entry]>
    let terminal: Bool
    let drawn = Mutex(0)

    init(files: [(name: String, size: Int)], terminal: Bool = isatty(STDERR_FILENO) == 1) {
        entries = Mutex(files.map { Entry(name: $0.name, size: $0.size) })
        self.terminal = terminal
    }

    /// File `index` has `bytes` on the server or in flight.
    func update(_ index: Int, bytes: Int) {
        let line = entries.withLock { entries -> String? in
            var entry = entries[index]
            if entry.start == nil {
                entry.start = bytes
                entry.started = .now
            }
            entry.done = bytes
            let decile = entry.size > 0 ? min(10, bytes * 10 / entry.size) : 10
            defer { entries[index] = entry }
            guard !terminal, decile > entry.decile else { return nil }
            entry.decile = decile
            return Self.line(entry)
        }
        if let line { Self.write(line + "\n") }
    }

    /// File `index` is done (or failed): `note` replaces rate and ETA.
    func finish(_ index: Int, note: String) {
        let line = entries.withLock { entries -> String in
            entries[index].note = note
            return Self.line(entries[index])
        }
        if !terminal { Self.write(line + "\n") }
    }

    /// Redraws every line (terminal only).
    func draw() {
        guard terminal else { return }
        let lines = entries.withLock { $0.map(Self.line) }
        let up = drawn.withLock { previous in
            defer { previous = lines.count }
            return previous
        }
        let clear = up > 0 ? "\u{1B}[\(up)A" : ""
        Self.write(clear + lines.map { "\u{1B}[2K" + $0 + "\n" }.joined())
    }

    /// Redraws until cancelled.
    func run() async {
        while !Task.isCancelled {
            draw()
            try? await Task.sleep(for: .milliseconds(250))
        }
        draw()
    }

    static func line(_ entry: Entry) -> String {
        let fraction = entry.size > 0 ? Double(entry.done) / Double(entry.size) : 1
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        let bytes = "\(megabytes(entry.done))/\(megabytes(entry.size)) MB"
        var tail: String
        if let note = entry.note {
            tail = note
        } else {
            let seconds = (ContinuousClock.now - entry.started).seconds
            let sent = entry.done - (entry.start ?? entry.done)
            // Under 0.2 s (or nothing sent yet) there is no rate to tell: "--", not a "0.0 MB/s" that reads as a stall.
            let rate = seconds > 0.2 && sent > 0 ? Double(sent) / seconds : nil
            let eta = rate.map { "ETA \(Int((Double(entry.size - entry.done) / $0).rounded(.up)))s" } ?? "ETA --"
            tail = "\(rate.map { megabytes(Int($0)) } ?? "--") MB/s  \(eta)"
        }
        return "\(entry.name.prefix(32))  [\(bar)] \(percent)  \(bytes)  \(tail)"
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_000_000) }

    static func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
