#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An IPv4 or IPv6 address with a TCP port.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family and bytes.
    public enum Host: Hashable, Sendable {
        /// Four bytes, network order.
        case ipv4(UInt8, UInt8, UInt8, UInt8)
        /// Sixteen bytes, network order.
        case ipv6([UInt8])
    }

    public var host: Host
    public var port: UInt16

    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses a numeric address: `127.0.0.1`, `::1`, `[::1]`; nil for anything else (names are
    /// resolved by ``resolve(_:port:)``).
    public init?(numericHost text: String, port: UInt16) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(storage4: v4, port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(storage6: v6, port: port)
            return
        }
        return nil
    }

    /// The addresses `host` names, numeric or resolved with `getaddrinfo(3)`, in the order the
    /// resolver prefers. Blocking: call it off any connection's queue.
    public static func resolve(_ host: String, port: UInt16) throws(NetError) -> [SocketAddress] {
        if let numeric = SocketAddress(numericHost: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw NetError(.resolveFailed, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var result: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(
                        from: UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage: storage), !result.contains(address) {
                    result.append(address)
                }
            }
            cursor = entry.pointee.ai_next
        }
        guard !result.isEmpty else { throw NetError(.resolveFailed, "\(host) has no IPv4 or IPv6 address") }
        return result
    }

    public var isIPv6: Bool {
        if case .ipv6 = host { return true }
        return false
    }

    /// `127.0.0.1:7000` or `[::1]:7000`.
    public var description: String {
        switch host {
        case .ipv4(let a, let b, let c, let d): return "\(a).\(b).\(c).\(d):\(port)"
        case .ipv6(let bytes):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            let name = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return "[\(name)]:\(port)"
        }
    }

    var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    // MARK: sockaddr conversions

    private init(storage4 address: in_addr, port: UInt16) {
        let b = withUnsafeBytes(of: address) { Array($0) }
        self.init(host: .ipv4(b[0], b[1], b[2], b[3]), port: port)
    }

    private init(storage6 address: in6_addr, port: UInt16) {
        self.init(host: .ipv6(withUnsafeBytes(of: address) { Array($0) }), port: port)
    }

    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let v4 = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
            self.init(storage4: v4.sin_addr, port: UInt16(bigEndian: v4.sin_port))
        case AF_INET6:
            let v6 = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
            self.init(storage6: v6.sin6_addr, port: UInt16(bigEndian: v6.sin6_port))
        default:
            return nil
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch host {
        case .ipv4(let a, let b, let c, let d):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: [a, b, c, d]) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6(let bytes):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}
