import ArgumentParser
import CCurl
import CFFmpeg
import ReelAPI
import ReelStore
import ReelYAML

/// `reel version`: Reel's version and the C libraries it runs on.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Reel's version and its libraries' versions.")

    func run() {
        let lavf = avformat_version()
        print("reel \(API.reelVersion) (API \(API.version))")
        print("libpq \(Database.libraryVersion)")
        print("libyaml \(YAMLParser.libraryVersion)")
        print(String(cString: curl_version()).split(separator: " ").first.map(String.init) ?? "libcurl")
        print(
            "libavformat \(lavf >> 16).\((lavf >> 8) & 0xff).\(lavf & 0xff) (FFmpeg "
                + "\(String(cString: av_version_info())))"
        )
    }
}
