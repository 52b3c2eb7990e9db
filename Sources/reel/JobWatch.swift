import ArgumentParser
import Foundation
import ReelAPI
import ReelHTTP

/// Follows jobs over a server's event stream (`/api/events`, Server-Sent Events) until each has finished,
/// printing every phase change; the exit status of `reel local --until-done`: 0 if all succeeded, 1 if any
/// failed, 2 when `timeout` passed first.
struct JobWatch {
    let server: String
    let token: String

    struct Frame: Decodable {
        struct Data: Decodable {
            struct Status: Decodable {
                var phase: String?
                var progress: Int?
                var conditions: [Condition]?
            }
            struct Condition: Decodable {
                var type: String
                var message: String?
            }
            var name: String?
            var status: Status?
        }
        var type: String
        var job: String?
        var data: Data?
    }

    func follow(_ uids: [String], timeout: Double?) async throws -> Int32 {
        try await withThrowingTaskGroup(of: Int32.self) { group in
            group.addTask { try await watch(Set(uids)) }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    FileHandle.standardError.write(Data("timed out after \(Int(timeout)) s\n".utf8))
                    return 2
                }
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    private func watch(_ uids: Set<String>) async throws -> Int32 {
        var phases: [String: String] = [:]
        var names: [String: String] = [:]
        let authorization = [("Authorization", "Bearer \(token)")]
        let stream = HTTPClient.stream(
            HTTPRequest(url: "\(server)/api/events?types=job", headers: authorization, timeout: nil))
        var buffer = Data()
        /// Notes a job's phase; `true` once every job has finished.
        func note(_ uid: String, name: String?, phase: String?, progress: Int?, message: String?) -> Bool {
            if let name { names[uid] = name }
            if let phase, phases[uid] != phase {
                phases[uid] = phase
                let detail = progress.map { " (\($0)%)" } ?? ""
                let why = phase == "Failed" ? message.map { ": \($0)" } ?? "" : ""
                print("job \(names[uid] ?? uid): \(phase)\(detail)\(why)")
            }
            return uids.allSatisfy { VideoJobPhase(rawValue: phases[$0] ?? "")?.isFinished ?? false }
        }
        func outcome() -> Int32 { uids.allSatisfy { phases[$0] == "Succeeded" } ? 0 : 1 }
        for try await event in stream {
            switch event {
            case .head(let status, _):
                guard status == 200 else { throw CLIFailure("the event stream answered HTTP \(status)") }
                // Subscribed: whatever happened before is read once, so nothing falls between.
                for uid in uids {
                    let response = try await HTTPClient.send(
                        HTTPRequest(url: "\(server)/api/jobs/\(uid)", headers: authorization))
                    guard response.status == 200,
                        let job = try? JSONDecoder().decode(Frame.Data.self, from: response.body)
                    else { throw CLIFailure("job \(uid): HTTP \(response.status)") }
                    let failure = job.status?.conditions?.first { $0.type == "Succeeded" }?.message
                    let name = job.name ?? (try? JSONDecoder().decode(Named.self, from: response.body))?.metadata.name
                    if note(uid, name: name, phase: job.status?.phase, progress: job.status?.progress, message: failure)
                    {
                        return outcome()
                    }
                }
            case .data(let chunk):
                buffer += chunk
                while let end = buffer.range(of: Data("\n\n".utf8)) {
                    let frame = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex..<end.upperBound)
                    guard let line = frame.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                        let parsed = try? JSONDecoder().decode(Frame.self, from: Data(line.dropFirst(6).utf8)),
                        let uid = parsed.job, uids.contains(uid)
                    else { continue }
                    if parsed.type == "job.deleted" {
                        print("job \(names[uid] ?? uid): deleted")
                        phases[uid] = "Failed"
                    }
                    let status = parsed.data?.status
                    let failure = status?.conditions?.first { $0.type == "Succeeded" }?.message
                    if note(
                        uid, name: parsed.data?.name, phase: status?.phase, progress: status?.progress, message: failure
                    ) {
                        return outcome()
                    }
                }
            }
        }
        throw CLIFailure("the event stream ended before the jobs did")
    }

    /// A VideoJob's name.
    struct Named: Decodable {
        struct Metadata: Decodable { var name: String }
        var metadata: Metadata
    }
}
