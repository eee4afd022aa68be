#if canImport(Glibc)
    import Glibc
#endif

/// A connected pair of blocking TCP sockets on 127.0.0.1 (a listener on port 0, a connect, an
/// accept), `TCP_NODELAY` on both like the transport's: the raw pumps' and frame paths' wire.
struct LoopbackSocketPair {
    let writer: Int32
    let reader: Int32

    init() {
        let listener = Self.check(socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), "socket")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = Self.check(bind(listener, $0, length), "bind")
                _ = Self.check(listen(listener, 1), "listen")
                _ = Self.check(getsockname(listener, $0, &length), "getsockname")
            }
        }
        let writer = Self.check(socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), "socket")
        withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = Self.check(connect(writer, $0, length), "connect")
            }
        }
        let reader = Self.check(accept(listener, nil, nil), "accept")
        self.writer = writer
        self.reader = reader
        Glibc.close(listener)
        var one: Int32 = 1
        for fd in [writer, reader] {
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    func close() {
        Glibc.close(writer)
        Glibc.close(reader)
    }

    /// Writes all of `bytes` (blocking).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            precondition(written > 0, "write on the loopback pair failed: errno \(errno)")
            offset += written
        }
    }

    /// One blocking read; 0 at end of stream.
    static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0, errno == EINTR { continue }
            precondition(count >= 0, "read on the loopback pair failed: errno \(errno)")
            return count
        }
    }

    private static func check(_ result: Int32, _ what: String) -> Int32 {
        precondition(result >= 0, "\(what) on 127.0.0.1 failed: errno \(errno)")
        return result
    }
}
