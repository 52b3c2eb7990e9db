import CCurl
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Holds a transfer's `AddressPolicy` for libcurl's open-socket callback, and what it refused.
final class AddressGate: Sendable {
    let policy: AddressPolicy
    private let refused = Mutex<String?>(nil)

    init(_ policy: AddressPolicy) { self.policy = policy }

    /// Why the transfer was stopped, if the gate stopped it.
    var refusal: String? { refused.withLock { $0 } }

    /// Checks every socket libcurl opens for `handle` (the first connection and each redirect's) against the policy.
    static func install(on handle: UnsafeMutableRawPointer, _ gate: UnsafeMutableRawPointer) {
        reel_curl_setopt_opensocket(
            handle,
            { data, _, address in
                let gate = Unmanaged<AddressGate>.fromOpaque(data!).takeUnretainedValue()
                guard let address else { return reel_curl_socket_bad() }
                var bytes = [UInt8](repeating: 0, count: 16)
                let count = Int(reel_curl_sockaddr_ip(address, &bytes))
                let ip = Array(bytes.prefix(count))
                if let what = count == 0 ? "an address of an unknown family" : gate.policy.refusal(ip) {
                    gate.refused.withLock {
                        $0 =
                            "it connects to \(count == 0 ? "?" : AddressPolicy.text(ip)), \(what); sources may not "
                            + "reach this machine or its private networks unless the operator allows the host "
                            + "(--allow-source-host)"
                    }
                    return reel_curl_socket_bad()
                }
                return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
            }, gate)
    }
}
