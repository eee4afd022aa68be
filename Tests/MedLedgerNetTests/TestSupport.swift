import Foundation
import Logging
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Synchronization
import Testing

let testChain = "medledger-net-test"

/// Records every event a transport reports, for assertions from the test's thread.
final class EventRecorder: Sendable {
    private let events = Mutex<[TransportEvent]>([])

    var handler: @Sendable (TransportEvent) -> Void { { event in self.events.withLock { $0.append(event) } } }

    var all: [TransportEvent] { events.withLock { $0 } }

    var connected: [PeerInfo] {
        all.compactMap { if case .connected(let info) = $0 { info } else { nil } }
    }

    var messages: [(Message, PeerInfo)] {
        all.compactMap { if case .message(let message, let from) = $0 { (message, from) } else { nil } }
    }

    var disconnected: [(PeerInfo, CloseReason)] {
        all.compactMap { if case .disconnected(let info, let reason) = $0 { (info, reason) } else { nil } }
    }
}

/// One node in a test: a transport with its key and recorded events.
struct TestNode {
    let key: Ed25519.PrivateKey
    let transport: Transport
    let events: EventRecorder

    var publicKey: Ed25519.PublicKey { key.publicKey }

    init(
        key: Ed25519.PrivateKey = Ed25519.PrivateKey(), admitting admitted: [Ed25519.PublicKey] = [],
        chain: String = testChain, _ tweak: (inout TransportConfiguration) -> Void = { _ in }
    ) throws {
        self.key = key
        var configuration = TransportConfiguration(chainID: chain, nodeKey: key, admittedPeerKeys: Set(admitted))
        configuration.tickInterval = .milliseconds(20)
        configuration.redialBackoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
        tweak(&configuration)
        let events = EventRecorder()
        var logger = Logger(label: "medledger.net.test")
        logger.logLevel = ProcessInfo.processInfo.environment["MEDLEDGER_NET_TEST_LOG"] != nil ? .debug : .critical
        transport = try Transport(configuration: configuration, logger: logger, eventHandler: events.handler)
        self.events = events
    }

    func endpoint(_ address: SocketAddress, channel: Channel = .peer) -> PeerEndpoint {
        PeerEndpoint(host: host(of: address), port: address.port, key: publicKey, channel: channel)
    }
}

func host(of address: SocketAddress) -> String {
    let text = address.description
    return String(text[..<text.lastIndex(of: ":")!])
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

/// Open socket descriptors of this process (`socket:[inode]` links in /proc/self/fd).
/// Open TCP sockets of this process whose local or remote port is one of `ports`: the sockets of
/// one test's listeners and of the connections to them, whatever other suites running at the same
/// time hold.
func openSocketCount(ports: Set<UInt16>) -> Int {
    var inodes: Set<String> = []
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9 else { continue }
            let portOf = { (field: Substring) -> UInt16? in field.split(separator: ":").last.flatMap { UInt16($0, radix: 16) } }
            if let local = portOf(fields[1]), let remote = portOf(fields[2]), ports.contains(local) || ports.contains(remote) {
                inodes.insert(String(fields[9]))
            }
        }
    }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter { name in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"), target.hasPrefix("socket:[") else { return false }
        return inodes.contains(String(target.dropFirst("socket:[".count).dropLast()))
    }.count
}

func vote(_ height: UInt64, by key: Ed25519.PublicKey) -> Message {
    .vote(
        Vote(
            voteType: .prevote, height: height, round: 0, blockHash: Bytes32(SHA256.hash(Array("block \(height)".utf8)).bytes),
            timestamp: 1_700_000_000_000 + height, validator: Bytes32(key.bytes)!, signature: Bytes64(Array(repeating: 7, count: 64))!))
}

func transaction(_ nonce: UInt64, body: [UInt8] = Array("a consent grant".utf8)) -> Message {
    .transaction(
        Transaction(
            txType: 1, signer: Bytes32(Array(repeating: 1, count: 32))!, nonce: nonce, body: body,
            signature: Bytes64(Array(repeating: 9, count: 64))!))
}

// MARK: A raw socket peer

/// A blocking TCP client that the test drives byte by byte: garbage, partial frames, floods, or a
/// handshake done by hand with the pure state machine.
final class RawPeer {
    let fd: Int32
    var decoder = FrameDecoder(mode: .strict)
    var handshake: Handshake?
    var session: SecureSession?
    /// Every sealed frame this peer sent, for replay tests.
    var sentFrames: [Frame] = []

    init(to address: SocketAddress) throws {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result: Int32
        switch address.host {
        case .ipv4(let a, let b, let c, let d):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: [a, b, c, d]) }
            result = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6(let bytes):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            result = withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    /// Sets the receive buffer small, so that a peer that never reads fills up quickly.
    func shrinkReceiveBuffer() {
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Writes all of `bytes`; false when the connection is gone.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    private func put(_ bytes: [UInt8], drip dripFeed: Bool) {
        if dripFeed { drip(bytes) } else { write(bytes) }
    }

    /// Writes one byte at a time.
    func drip(_ bytes: [UInt8]) {
        for byte in bytes { write([byte]) }
    }

    /// Reads the next frame (nil at end of stream, on error or after the receive timeout).
    func readFrame() -> Frame? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let frame = try? decoder.next() { return frame }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            decoder.append(buffer[0..<count])
        }
    }

    /// Reads until the other side closes; returns the decoded `DISCONNECT` if one came first.
    func readUntilClosed() -> (closed: Bool, disconnect: Disconnect?) {
        var disconnect: Disconnect?
        while let frame = readFrame() {
            if frame.header.type == .disconnect {
                if frame.header.flags.contains(.sealed) {
                    if var opener = session?.opener, let plain = try? opener.open(frame.payload, header: frame.header.bytes),
                        case .disconnect(let message)? = try? Message.decode(type: .disconnect, payload: plain)
                    {
                        disconnect = message
                    }
                } else if case .disconnect(let message)? = try? Message.decode(type: .disconnect, payload: frame.payload) {
                    disconnect = message
                }
            } else if frame.header.flags.contains(.sealed), session != nil {
                _ = try? session!.opener.open(frame.payload, header: frame.header.bytes)
            }
        }
        var probe: UInt8 = 0
        let count = recv(fd, &probe, 1, 0)
        return (count == 0 || (count < 0 && errno == ECONNRESET), disconnect)
    }

    /// Runs the initiator side of the handshake with `key`; returns the session, or the
    /// `DISCONNECT` the responder refused it with.
    @discardableResult
    func handshake(
        key: Ed25519.PrivateKey, chain: String = testChain, channel: Channel = .peer, versions: ClosedRange<UInt8> = 1...1,
        drip dripFeed: Bool = false
    ) throws -> SecureSession {
        var handshake = Handshake(
            role: .initiator, configuration: HandshakeConfiguration(chainID: chain, channel: channel, nodeKey: key, versions: versions))
        let hello = handshake.start()!
        put(hello.bytes, drip: dripFeed)
        while true {
            guard let frame = readFrame() else { throw HandshakeError(.normal, "closed during the handshake") }
            if frame.header.type == .disconnect, frame.header.flags.isEmpty,
                case .disconnect(let message) = try Message.decode(type: .disconnect, payload: frame.payload)
            {
                throw HandshakeError(DisconnectReason(rawValue: message.code) ?? .normal, message.reason)
            }
            switch try handshake.receive(frame) {
            case .send(let frames):
                for frame in frames { put(frame.bytes, drip: dripFeed) }
            case .established(let frames, let session):
                for frame in frames { write(frame.bytes) }
                self.session = session
                return session
            }
        }
    }

    /// Seals `message` with the session (the next sequence) without sending it.
    func seal(_ message: Message) throws -> Frame {
        let frame = try Frame.sealed(message, version: session!.version, sealer: &session!.sealer)
        sentFrames.append(frame)
        return frame
    }

    /// Seals and sends `message`.
    func send(_ message: Message) throws {
        write(try seal(message).bytes)
    }

    /// Reads frames until a sealed one of `type` opens; answers pings on the way.
    func receive(_ type: MessageType) throws -> Message? {
        while let frame = readFrame() {
            let plain = try session!.opener.open(frame.payload, header: frame.header.bytes)
            let decoded = try Frame.decodePlaintext(header: frame.header, plaintext: plain)
            if decoded.header.type == type { return decoded.message }
        }
        return nil
    }
}
