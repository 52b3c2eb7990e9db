import CFFmpeg

/// What a compressed frame is to the decoder, read from its NAL unit headers without decoding it.
struct PacketKind: Equatable {
    /// Other frames refer to it: `skip_frame = AVDISCARD_NONREF` decodes it.
    var reference: Bool
    /// Frames of one kind have sizes worth comparing: the slice type for H.264 (0 P, 1 B, 2 I), the NAL unit
    /// type's class for HEVC (0 not a random access point, 1 one).
    var kind: Int
}

/// Reads `PacketKind`s from one stream's packets: H.264 and HEVC, length-prefixed (`avcC`, `hvcC`) or Annex B.
/// Other codecs have no reader (`init` fails).
struct PacketKinds {
    enum Codec { case h264, hevc }
    let codec: Codec
    /// Bytes of each NAL unit's length; nil for Annex B start codes.
    let lengthSize: Int?

    init?(_ parameters: UnsafeMutablePointer<AVCodecParameters>) {
        let p = parameters.pointee
        let extradata =
            p.extradata == nil ? [] : Array(UnsafeBufferPointer(start: p.extradata, count: Int(p.extradata_size)))
        switch p.codec_id {
        case AV_CODEC_ID_H264:
            codec = .h264
            lengthSize = extradata.count >= 7 && extradata[0] == 1 ? Int(extradata[4] & 3) + 1 : nil
        case AV_CODEC_ID_HEVC:
            codec = .hevc
            lengthSize = extradata.count >= 23 && extradata[0] == 1 ? Int(extradata[21] & 3) + 1 : nil
        default:
            return nil
        }
    }

    /// The kind of the first picture slice in `bytes`; nil when there is none or it cannot be read.
    func kind(of bytes: UnsafeBufferPointer<UInt8>) -> PacketKind? {
        var found: PacketKind?
        H264.forEachUnit(bytes, lengthSize: lengthSize) { unit in
            found = slice(unit)
            return found == nil
        }
        return found
    }

    /// The kind of a picture slice NAL unit; nil for any other unit.
    private func slice(_ unit: UnsafeBufferPointer<UInt8>) -> PacketKind? {
        guard let header = unit.first else { return nil }
        switch codec {
        case .h264:
            let type = header & 0x1f
            guard type == 1 || type == 5, unit.count > 1 else { return nil }
            var reader = H264.BitReader(unescaping: Array(unit[1..<min(unit.count, 9)]))
            guard reader.unsignedGolomb() != nil, let sliceType = reader.unsignedGolomb() else { return nil }
            // 0 P, 1 B, 2 I, 3 SP (as P), 4 SI (as I).
            let kind = [0, 1, 2, 0, 2][sliceType % 5]
            return PacketKind(reference: header >> 5 & 3 != 0, kind: type == 5 ? 2 : kind)
        case .hevc:
            let type = Int(header >> 1 & 0x3f)
            guard type < 32 else { return nil }
            // TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N and the reserved RSV_VCL_N10/12/14: sub-layer non-reference.
            let reference = !(type <= 14 && type % 2 == 0)
            return PacketKind(reference: reference, kind: (16...23).contains(type) ? 1 : 0)
        }
    }
}
