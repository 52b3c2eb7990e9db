import Crypto
import Foundation

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

/// Lower-case hexadecimal, two digits a byte.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The SHA-256 of `data`, in hexadecimal.
public func sha256Hex(_ data: some DataProtocol) -> String { hexString(SHA256.hash(data: data)) }

/// The SHA-256 of a string's UTF-8, in hexadecimal.
public func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }
