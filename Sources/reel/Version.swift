import ArgumentParser
import CCurl
import ReelAPI
import ReelMedia
import ReelStore
import ReelYAML

/// `reel version`: Reel's version and the C libraries it runs on.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Reel's version and its libraries' versions.")

    func run() {
        print("reel \(API.reelVersion) (API \(API.version))")
        print("libpq \(Database.libraryVersion)")
        print("libyaml \(YAMLParser.libraryVersion)")
        print(String(cString: curl_version()).split(separator: " ").first.map(String.init) ?? "libcurl")
        print(MediaEngine.libraryVersion)
    }
}
