import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Which addresses a transfer may connect to. Whoever may create a VideoJob chooses its source URL and a worker
/// fetches it, so by default a source may not reach this machine or its private networks (loopback, link-local —
/// cloud metadata at 169.254.169.254 —, private, shared and unique-local ranges): an operator allows hosts or
/// CIDRs explicitly. The check is on the address libcurl actually connects to, after DNS, on every redirect.
public struct AddressPolicy: Sendable, Equatable {
    /// An address range: the first `prefix` bits of `bytes` (4 bytes for IPv4, 16 for IPv6).
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        public var bytes: [UInt8]
        public var prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let address = AddressPolicy.parse(parts[0]) else { return nil }
            let bits = address.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : bits
            guard let prefix, (0...bits).contains(prefix) else { return nil }
            self.bytes = address
            self.prefix = prefix
        }

        public func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefix
            for (a, b) in zip(address, bytes) where remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if a & mask != b & mask { return false }
                remaining -= 8
            }
            return true
        }

        public var description: String { "\(AddressPolicy.text(bytes))/\(prefix)" }
    }

    /// What a source may not reach unless allowed, with what to call it in an error.
    public static let restricted: [(Range, String)] = [
        ("0.0.0.0/8", "a 'this network' address"), ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"), ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"), ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", "a link-local address (cloud metadata lives there)"),
        ("224.0.0.0/4", "a multicast address"), ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"), ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"), ("fc00::/7", "a unique-local address"),
        ("ff00::/8", "a multicast address"), ("::ffff:0:0/96", "an IPv4-mapped address"),
    ].map { (Range($0.0)!, $0.1) }

    /// Ranges the operator allowed (`--allow-source-host`).
    public var allowed: [Range]
    /// Whether every address is allowed (tests and trusted set-ups only).
    public var unrestricted = false

    /// Public addresses only, plus `allowed`.
    public init(allowing allowed: [Range] = []) { self.allowed = allowed }

    /// Any address at all.
    public static let any: AddressPolicy = {
        var policy = AddressPolicy()
        policy.unrestricted = true
        return policy
    }()

    /// `--allow-source-host` values: IP addresses, CIDRs, or host names (resolved now, every address they have).
    public static func parsing(_ entries: [String]) throws -> AddressPolicy {
        var ranges: [Range] = []
        for entry in entries {
            if let range = Range(entry) {
                ranges.append(range)
                continue
            }
            let resolved = resolve(entry)
            guard !resolved.isEmpty else {
                throw HTTPError(
                    .refused, "\"\(entry)\" is not an address, a CIDR or a host name that resolves", url: "")
            }
            ranges += resolved.map { Range(text($0))! }
        }
        return AddressPolicy(allowing: ranges)
    }

    /// Why `address` may not be reached, or `nil` when it may.
    public func refusal(_ address: [UInt8]) -> String? {
        if unrestricted || allowed.contains(where: { $0.contains(address) }) { return nil }
        return Self.restricted.first { $0.0.contains(address) }?.1
    }

    /// Why `host` may not be reached — a refused address literal, or a name with a refused address among those
    /// it resolves to now — or `nil` when it may (a name that does not resolve fails later, on its own terms).
    public func refusal(host: String) -> String? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        for address in Self.parse(bare).map({ [$0] }) ?? Self.resolve(bare) {
            if let what = refusal(address) { return "\(host) is \(Self.text(address)), \(what)" }
        }
        return nil
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func resolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found: [[UInt8]] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    found.append(withUnsafeBytes(of: &v4) { Array($0) })
                } else if current.pointee.ai_family == AF_INET6 {
                    var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    found.append(withUnsafeBytes(of: &v6) { Array($0) })
                }
            }
            entry = current.pointee.ai_next
        }
        return Array(Set(found.map { $0 })).sorted { $0.lexicographicallyPrecedes($1) }
    }
}
