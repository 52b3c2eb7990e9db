/// What the smart render needs of H.264's bitstream: the `avcC` record (MP4 and Matroska keep the parameter
/// sets there), parameter-set ids, IDR detection, and Annex B → length-prefixed conversion.
enum H264 {
    /// An `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1).
    struct Config: Equatable {
        var lengthSize: Int
        var sps: [[UInt8]]
        var pps: [[UInt8]]
        /// What follows the PPS list: for the High profiles, chroma format, bit depths and SPS extensions.
        var trailer: [UInt8] = []

        init(lengthSize: Int, sps: [[UInt8]], pps: [[UInt8]], trailer: [UInt8] = []) {
            self.lengthSize = lengthSize
            self.sps = sps
            self.pps = pps
            self.trailer = trailer
        }

        /// Parses an `avcC` record; nil for anything else (Annex B extradata, truncated records).
        init?(avcC bytes: [UInt8]) {
            guard bytes.count >= 7, bytes[0] == 1 else { return nil }
            lengthSize = Int(bytes[4] & 3) + 1
            var at = 6
            func units(_ count: Int) -> [[UInt8]]? {
                var result: [[UInt8]] = []
                for _ in 0..<count {
                    guard at + 2 <= bytes.count else { return nil }
                    let length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
                    at += 2
                    guard length > 0, at + length <= bytes.count else { return nil }
                    result.append(Array(bytes[at..<at + length]))
                    at += length
                }
                return result
            }
            guard let sps = units(Int(bytes[5] & 0x1f)) else { return nil }
            guard at < bytes.count else { return nil }
            let ppsCount = Int(bytes[at])
            at += 1
            guard let pps = units(ppsCount), !sps.isEmpty, !pps.isEmpty else { return nil }
            self.sps = sps
            self.pps = pps
            trailer = Array(bytes[at...])
        }

        /// The record's bytes (profile, compatibility and level from the first SPS).
        var avcC: [UInt8] {
            var out: [UInt8] = [
                1, sps[0][1], sps[0][2], sps[0][3], 0xfc | UInt8(lengthSize - 1), 0xe0 | UInt8(sps.count),
            ]
            for unit in sps { out += [UInt8(unit.count >> 8), UInt8(unit.count & 0xff)] + unit }
            out.append(UInt8(pps.count))
            for unit in pps { out += [UInt8(unit.count >> 8), UInt8(unit.count & 0xff)] + unit }
            return out + trailer
        }

        var spsIDs: Set<Int> { Set(sps.compactMap { H264.spsID($0) }) }
        var ppsIDs: Set<Int> { Set(pps.compactMap { H264.ppsID($0) }) }
    }

    /// NAL units of an Annex B byte stream (start codes removed).
    static func annexBUnits(_ bytes: [UInt8]) -> [[UInt8]] {
        var units: [[UInt8]] = []
        bytes.withUnsafeBufferPointer { buffer in
            forEachUnit(buffer, lengthSize: nil) { unit in
                units.append(Array(unit))
                return true
            }
        }
        return units
    }

    /// Calls `body` with each NAL unit of `bytes` until it returns false, without copying: units prefixed by
    /// their length in `lengthSize` bytes (`avcC`, `hvcC`), or Annex B start codes (nil; a unit ends before the
    /// next start code and its leading zero byte, if any).
    static func forEachUnit(
        _ bytes: UnsafeBufferPointer<UInt8>, lengthSize: Int?, _ body: (UnsafeBufferPointer<UInt8>) -> Bool
    ) {
        let count = bytes.count
        if let lengthSize {
            var at = 0
            while at + lengthSize <= count {
                var length = 0
                for k in 0..<lengthSize { length = length << 8 | Int(bytes[at + k]) }
                at += lengthSize
                guard length > 0, at + length <= count else { return }
                guard body(UnsafeBufferPointer(rebasing: bytes[at..<at + length])) else { return }
                at += length
            }
            return
        }
        var start: Int?
        var i = 0
        while i + 2 < count {
            guard bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1 else {
                i += 1
                continue
            }
            let code = i > 0 && bytes[i - 1] == 0 ? i - 1 : i
            if let start, start < code, !body(UnsafeBufferPointer(rebasing: bytes[start..<code])) { return }
            start = i + 3
            i += 3
        }
        if let start, start < count { _ = body(UnsafeBufferPointer(rebasing: bytes[start..<count])) }
    }

    /// A length-prefixed access unit from Annex B, without access unit delimiters and parameter sets (those
    /// live in the `avcC` record).
    static func lengthPrefixed(annexB bytes: [UInt8], lengthSize: Int) -> [UInt8] {
        var out: [UInt8] = []
        for unit in annexBUnits(bytes) where ![7, 8, 9].contains(unit[0] & 0x1f) {
            for k in (0..<lengthSize).reversed() { out.append(UInt8((unit.count >> (8 * k)) & 0xff)) }
            out += unit
        }
        return out
    }

    /// Whether a length-prefixed access unit holds an IDR slice (a closed start: nothing after it in decode
    /// order refers to anything before it).
    static func isIDR(_ bytes: UnsafeBufferPointer<UInt8>, lengthSize: Int) -> Bool {
        var found = false
        forEachUnit(bytes, lengthSize: lengthSize) { unit in
            found = (unit.first ?? 0) & 0x1f == 5
            return !found
        }
        return found
    }

    /// `seq_parameter_set_id` of an SPS NAL unit.
    static func spsID(_ unit: [UInt8]) -> Int? {
        guard unit.count > 4 else { return nil }
        var reader = BitReader(unescaping: Array(unit[4...]))  // after header, profile, constraints, level
        return reader.unsignedGolomb()
    }

    /// `pic_parameter_set_id` of a PPS NAL unit.
    static func ppsID(_ unit: [UInt8]) -> Int? {
        guard unit.count > 1 else { return nil }
        var reader = BitReader(unescaping: Array(unit[1...]))
        return reader.unsignedGolomb()
    }

    /// Reads exp-Golomb codes from an RBSP (emulation-prevention bytes removed).
    struct BitReader {
        let bytes: [UInt8]
        var bit = 0

        init(unescaping escaped: [UInt8]) {
            var out: [UInt8] = []
            var zeros = 0
            for byte in escaped {
                if zeros >= 2, byte == 3 {
                    zeros = 0
                    continue
                }
                zeros = byte == 0 ? zeros + 1 : 0
                out.append(byte)
            }
            bytes = out
        }

        mutating func next() -> Int? {
            guard bit < bytes.count * 8 else { return nil }
            defer { bit += 1 }
            return Int(bytes[bit / 8] >> (7 - UInt8(bit % 8)) & 1)
        }

        mutating func unsignedGolomb() -> Int? {
            var zeros = 0
            while let b = next(), b == 0 {
                zeros += 1
                if zeros > 31 { return nil }
            }
            var value = 1
            for _ in 0..<zeros {
                guard let b = next() else { return nil }
                value = value << 1 | b
            }
            return value - 1
        }
    }
}
