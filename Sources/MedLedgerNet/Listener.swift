import Dispatch
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A listening socket: accepts connections for one port kind and hands them to the transport.
///
/// Its only mutable state is the source and its pause, owned by the transport's control queue.
final class Listener: @unchecked Sendable {
    let fd: Int32
    let channel: Channel
    let address: SocketAddress
    private let queue: DispatchQueue
    private var source: DispatchSourceRead?
    private var paused = false

    /// Creates, binds and starts a listening socket (`SO_REUSEADDR`; IPv6 sockets are IPv6 only,
    /// so `::` and `0.0.0.0` can be bound side by side).
    init(address requested: SocketAddress, channel: Channel, backlog: Int32, queue: DispatchQueue) throws(NetError) {
        let fd: Int32
        do {
            fd = try Syscall.socket(family: requested.family)
        } catch {
            throw NetError(.listenFailed, "cannot create a socket for \(requested): \(error)")
        }
        do {
            try Syscall.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if requested.isIPv6 {
                try Syscall.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1)
            }
            try Syscall.bind(fd, requested)
            try Syscall.listen(fd, backlog: backlog)
            address = try Syscall.localAddress(fd)
        } catch {
            Syscall.close(fd)
            throw NetError(.listenFailed, "cannot listen on \(requested): \(error)")
        }
        self.fd = fd
        self.channel = channel
        self.queue = queue
    }

    /// Starts accepting; `accepted` runs on the control queue for each new descriptor.
    func start(_ accepted: @escaping @Sendable (Listener, Int32, SocketAddress?) -> Void, failed: @escaping @Sendable (Listener, Syscall.Errno) -> Void) {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        let fd = self.fd
        source.setEventHandler {
            while true {
                do throws(Syscall.Errno) {
                    guard let (client, peer) = try Syscall.accept(fd) else { return }
                    accepted(self, client, peer)
                } catch {
                    failed(self, error)
                    // Out of descriptors: stop accepting for a moment instead of spinning.
                    self.pause(for: .milliseconds(100))
                    return
                }
            }
        }
        source.setCancelHandler { Syscall.close(fd) }
        self.source = source
        source.resume()
    }

    private func pause(for delay: DispatchTimeInterval) {
        guard !paused, let source else { return }
        paused = true
        source.suspend()
        queue.asyncAfter(deadline: .now() + delay) {
            guard self.paused, let source = self.source else { return }
            self.paused = false
            source.resume()
        }
    }

    /// Stops accepting and closes the socket. Runs on the control queue.
    func stop() {
        guard let source else { return }
        self.source = nil
        source.cancel()
        if paused {
            paused = false
            source.resume()
        }
    }
}
