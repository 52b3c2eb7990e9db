import CCurl
import CFFmpeg
import CPostgres
import CYAML
import Testing

/// Each system-library target links and answers its version call: the build found headers and libraries
/// through pkg-config, and the shims compile.
@Suite("C libraries link and answer")
struct CLibrariesTests {
    @Test func libpq() {
        // PQlibVersion is major*10000 + minor; Debian bookworm ships 15.
        #expect(PQlibVersion() >= 100_000)
    }

    @Test func libyaml() {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        yaml_get_version(&major, &minor, &patch)
        #expect(major == 0 && minor >= 2)
        #expect(String(cString: yaml_get_version_string()) == "\(major).\(minor).\(patch)")
    }

    @Test func libcurl() throws {
        let info = try #require(reel_curl_version_info())
        #expect(info.pointee.version_num >= 0x07_40_00)  // 7.64 or newer
        #expect(String(cString: curl_version()).hasPrefix("libcurl/"))
        // The variadic wrappers in shim.h reach curl_easy_setopt/getinfo.
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(reel_curl_setopt_long(handle, CURLOPT_VERBOSE, 0) == CURLE_OK)
        var code: Int = -1
        #expect(reel_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
        #expect(code == 0)
    }

    @Test func ffmpeg() {
        // libavformat 59 is FFmpeg 5.1, the floor Reel is written against (ch_layout).
        #expect(avformat_version() >> 16 >= 59)
        #expect(avcodec_version() >> 16 >= 59)
        #expect(avutil_version() >> 16 >= 57)
        #expect(swscale_version() >> 16 >= 6)
        #expect(swresample_version() >> 16 >= 4)
        // Opened on first use (Sources/CFFmpeg/loader.c): the libraries the headers name are there.
        #expect(reel_ffmpeg_load() == nil)
        #expect(reel_averror_eof() < 0)
        #expect(reel_av_nopts_value() == Int64.min)
        #expect(reel_av_time_base_q().den == reel_av_time_base())
    }
}
