import Crypto
import FoundationEssentials

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

/// Base64 with the URL- and filename-safe alphabet and no padding (RFC 4648 §5): tokens, signatures, cursors.
public enum Base64URL {
    public static func encode(_ data: Data) -> String {
        String(
            data.base64EncodedString().compactMap { character in
                character == "+" ? "-" : character == "/" ? "_" : character == "=" ? nil : character
            })
    }

    /// The bytes of `text`, or `nil` when it is not base64url.
    public static func decode(_ text: String) -> Data? {
        var base64 = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
