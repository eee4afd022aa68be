#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one place MedLedgerNet calls the socket API. Each wrapper names the C call it maps to,
/// retries `EINTR`, and turns a failure into an `Errno` value instead of a global.
enum Syscall {
    /// An `errno` value with its `strerror` text.
    struct Errno: Error, Hashable, CustomStringConvertible {
        var code: Int32

        var isWouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK }
        var description: String { "\(String(cString: strerror(code))) (errno \(code))" }

        /// A stable snake-case name for counters (`connection_refused`, `timed_out`, ...).
        var name: String {
            switch code {
            case ECONNREFUSED: "connection_refused"
            case ETIMEDOUT: "timed_out"
            case ECONNRESET: "connection_reset"
            case EHOSTUNREACH: "host_unreachable"
            case ENETUNREACH: "network_unreachable"
            case EADDRINUSE: "address_in_use"
            case EADDRNOTAVAIL: "address_not_available"
            case EMFILE, ENFILE: "too_many_open_files"
            case EPIPE: "broken_pipe"
            default: "errno_\(code)"
            }
        }

        static var current: Errno { Errno(code: errno) }
    }

    /// `socket(2)`, non-blocking and close-on-exec from the start.
    static func socket(family: Int32) throws(Errno) -> Int32 {
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
            let type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC
        #endif
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw .current }
        return fd
    }

    /// `setsockopt(2)` with an `Int32` value.
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(Errno) {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else { throw .current }
    }

    /// `setsockopt(2)` `TCP_NODELAY`: small consensus frames go out at once. Errors are ignored.
    static func setNoDelay(_ fd: Int32) {
        try? setOption(fd, level: Int32(IPPROTO_TCP), name: Int32(TCP_NODELAY), value: 1)
    }

    /// `getsockopt(2)` `SO_ERROR`: the outcome of a non-blocking `connect(2)`.
    static func pendingError(_ fd: Int32) -> Int32 {
        do {
            return try getOption(fd, level: SOL_SOCKET, name: SO_ERROR)
        } catch {
            return error.code
        }
    }

    /// `getsockopt(2)` with an `Int32` value (used for `SO_ERROR`).
    static func getOption(_ fd: Int32, level: Int32, name: Int32) throws(Errno) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, name, &value, &length) == 0 else { throw .current }
        return value
    }

    /// `bind(2)`.
    static func bind(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        let result = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard result == 0 else { throw .current }
    }

    /// `listen(2)`.
    static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        guard Glibc.listen(fd, backlog) == 0 else { throw .current }
    }

    /// `accept(2)`, then `fcntl(2)` for `O_NONBLOCK` and `FD_CLOEXEC` (Glibc's module does not
    /// export `accept4`); nil when no connection is waiting.
    static func accept(_ fd: Int32) throws(Errno) -> (Int32, SocketAddress?)? {
        var storage = sockaddr_storage()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
            }
            if client >= 0 {
                let flags = fcntl(client, F_GETFL)
                guard flags >= 0, fcntl(client, F_SETFL, flags | O_NONBLOCK) == 0,
                    fcntl(client, F_SETFD, FD_CLOEXEC) == 0
                else {
                    let error = Errno.current
                    Glibc.close(client)
                    throw error
                }
                return (client, SocketAddress(storage: storage))
            }
            let error = Errno.current
            if error.code == EINTR || error.code == ECONNABORTED { continue }
            if error.isWouldBlock { return nil }
            throw error
        }
    }

    /// `connect(2)` on a non-blocking socket: true when connected at once, false when in progress.
    static func connect(_ fd: Int32, _ address: SocketAddress) throws(Errno) -> Bool {
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if result == 0 { return true }
        let error = Errno.current
        if error.code == EINPROGRESS || error.code == EINTR { return false }
        throw error
    }

    /// `getsockname(2)`: the local address a socket is bound to.
    static func localAddress(_ fd: Int32) throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0, let address = SocketAddress(storage: storage) else { throw .current }
        return address
    }

    /// `read(2)` into `buffer`: the byte count, 0 at end of stream, nil when it would block.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let error = Errno.current
            if error.code == EINTR { continue }
            if error.isWouldBlock { return nil }
            throw error
        }
    }

    /// `send(2)` with `MSG_NOSIGNAL` (a closed peer is `EPIPE`, never `SIGPIPE`): bytes written,
    /// nil when it would block.
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        while true {
            let count = Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return count }
            let error = Errno.current
            if error.code == EINTR { continue }
            if error.isWouldBlock { return nil }
            throw error
        }
    }

    /// `shutdown(2)` of the sending side; errors are ignored (the socket may be reset already).
    static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// `close(2)`; never retried on `EINTR` (Linux has released the descriptor by then).
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
