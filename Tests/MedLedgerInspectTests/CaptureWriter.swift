import MedLedgerCrypto
import MedLedgerInspect
import MedLedgerWire

/// A small capture writer for the tests: pcap (micro- or nanosecond, either byte order) and
/// pcapng (sections of either byte order, several interfaces, if_tsresol), over every link type
/// the inspector reads. Written from the formats' specifications, like the reader, but separately.
struct CaptureWriter {
    enum Format: Equatable, CustomStringConvertible {
        case pcap(bigEndian: Bool, nanoseconds: Bool)
        case pcapng(bigEndian: Bool)

        var description: String {
            switch self {
            case .pcap(let big, let nanos): "pcap-\(big ? "be" : "le")-\(nanos ? "ns" : "us")"
            case .pcapng(let big): "pcapng-\(big ? "be" : "le")"
            }
        }
    }

    struct Packet {
        /// Nanoseconds since the epoch.
        var time: Int64
        var data: [UInt8]
        var originalLength: Int?
        var interface = 0
    }

    static func u16(_ v: UInt16, big: Bool) -> [UInt8] {
        big ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]
    }

    static func u32(_ v: UInt32, big: Bool) -> [UInt8] {
        let b = [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        return big ? b : b.reversed()
    }

    /// A pcap file: one link type.
    static func pcap(_ packets: [Packet], linkType: UInt32, bigEndian: Bool, nanoseconds: Bool, snapLength: UInt32 = 262_144) -> [UInt8] {
        var out = u32(nanoseconds ? 0xA1B2_3C4D : 0xA1B2_C3D4, big: bigEndian)
        out += u16(2, big: bigEndian) + u16(4, big: bigEndian) + u32(0, big: bigEndian) + u32(0, big: bigEndian)
        out += u32(snapLength, big: bigEndian) + u32(linkType, big: bigEndian)
        for packet in packets {
            let seconds = UInt32(packet.time / 1_000_000_000)
            let fraction = UInt32(packet.time % 1_000_000_000 / (nanoseconds ? 1 : 1_000))
            let captured = Swift.min(packet.data.count, Int(snapLength))
            out += u32(seconds, big: bigEndian) + u32(fraction, big: bigEndian)
            out += u32(UInt32(captured), big: bigEndian) + u32(UInt32(packet.originalLength ?? packet.data.count), big: bigEndian)
            out += packet.data.prefix(captured)
        }
        return out
    }

    struct Interface {
        var linkType: UInt16
        var snapLength: UInt32 = 262_144
        /// if_tsresol's byte (6: microseconds, 9: nanoseconds, 0x80 | n: 2^-n).
        var resolution: UInt8? = nil
    }

    static func block(_ type: UInt32, _ body: [UInt8], big: Bool) -> [UInt8] {
        var body = body
        while body.count % 4 != 0 { body.append(0) }
        let length = UInt32(body.count + 12)
        return u32(type, big: big) + u32(length, big: big) + body + u32(length, big: big)
    }

    /// One pcapng section: its header, its interfaces, then its packets as enhanced packet
    /// blocks (with an unknown block in front of the first to show it is skipped).
    static func pcapngSection(
        _ packets: [Packet], interfaces: [Interface], bigEndian big: Bool, useSimpleBlocks: Bool = false
    ) -> [UInt8] {
        var shb = u32(0x1A2B_3C4D, big: big) + u16(1, big: big) + u16(0, big: big)
        shb += [UInt8](repeating: 0xFF, count: 8)  // section length: unknown
        var out = block(0x0A0D_0D0A, shb, big: big)
        for interface in interfaces {
            var body = u16(interface.linkType, big: big) + u16(0, big: big) + u32(interface.snapLength, big: big)
            if let resolution = interface.resolution {
                body += u16(9, big: big) + u16(1, big: big) + [resolution, 0, 0, 0]
                body += u16(0, big: big) + u16(0, big: big)
            }
            out += block(1, body, big: big)
        }
        out += block(0x0BAD_CAFE, [1, 2, 3, 4, 5, 6, 7], big: big)
        for packet in packets {
            let interface = interfaces[packet.interface]
            if useSimpleBlocks {
                out += block(3, u32(UInt32(packet.data.count), big: big) + packet.data, big: big)
                continue
            }
            let units: UInt64
            switch interface.resolution {
            case nil, 6: units = UInt64(packet.time / 1_000)
            case 9: units = UInt64(packet.time)
            case let r? where r & 0x80 != 0:
                let shift = UInt64(r & 0x7F)
                units = UInt64(packet.time / 1_000_000_000) << shift
                    + UInt64((Double(packet.time % 1_000_000_000) / 1e9) * Double(UInt64(1) << shift))
            case let r?:
                var divisor: Int64 = 1
                for _ in 0..<(9 - Int(r)) { divisor *= 10 }
                units = UInt64(packet.time / divisor)
            }
            var body = u32(UInt32(packet.interface), big: big) + u32(UInt32(units >> 32), big: big) + u32(UInt32(units & 0xFFFF_FFFF), big: big)
            body += u32(UInt32(packet.data.count), big: big) + u32(UInt32(packet.originalLength ?? packet.data.count), big: big)
            body += packet.data
            while body.count % 4 != 0 { body.append(0) }
            body += u16(1, big: big) + u16(4, big: big) + Array("test".utf8) + u16(0, big: big) + u16(0, big: big)  // opt_comment, end
            out += block(6, body, big: big)
        }
        return out
    }
}

/// The link layers around an IP packet.
enum LinkFraming: CaseIterable, CustomStringConvertible {
    case ethernet, ethernetVLAN, sll, sll2, nullLittle, nullBig, loop, raw, rawTyped

    var linkType: UInt32 {
        switch self {
        case .ethernet, .ethernetVLAN: 1
        case .sll: 113
        case .sll2: 276
        case .nullLittle, .nullBig: 0
        case .loop: 108
        case .raw: 101
        case .rawTyped: 228  // 229 for IPv6: see linkType(for:)
        }
    }

    func linkType(ipv6: Bool) -> UInt32 { self == .rawTyped && ipv6 ? 229 : linkType }

    var description: String {
        switch self {
        case .ethernet: "ethernet"
        case .ethernetVLAN: "ethernet-vlan"
        case .sll: "sll"
        case .sll2: "sll2"
        case .nullLittle: "null-le"
        case .nullBig: "null-be"
        case .loop: "loop"
        case .raw: "raw"
        case .rawTyped: "raw-typed"
        }
    }

    func wrap(_ ip: [UInt8], ipv6: Bool) -> [UInt8] {
        let etherType: [UInt8] = ipv6 ? [0x86, 0xDD] : [0x08, 0x00]
        switch self {
        case .ethernet:
            return [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] + etherType + ip
        case .ethernetVLAN:
            return [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x2A, 0x81, 0x00, 0x00, 0x07] + etherType + ip
        case .sll:
            return [0, 0, 0x03, 0x04, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + etherType + ip
        case .sll2:
            return etherType + [0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0] + ip
        case .nullLittle:
            return (ipv6 ? [10, 0, 0, 0] : [2, 0, 0, 0]) + ip
        case .nullBig:
            return (ipv6 ? [0, 0, 0, 30] : [0, 0, 0, 2]) + ip
        case .loop:
            return (ipv6 ? [0, 0, 0, 24] : [0, 0, 0, 2]) + ip
        case .raw, .rawTyped:
            return ip
        }
    }
}

/// One side of a synthetic TCP connection.
struct TCPEndpoint {
    var address: [UInt8]  // 4 or 16 bytes
    var port: UInt16
}

/// Builds IPv4/IPv6 + TCP packets.
enum PacketBuilder {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static let syn: UInt8 = 0x02
    static let ack: UInt8 = 0x10
    static let fin: UInt8 = 0x01
    static let psh: UInt8 = 0x08

    /// An IP packet carrying one TCP segment. IPv4 gets an options word when `ipOptions`; IPv6
    /// gets a hop-by-hop and a destination options header when `extensionHeaders`.
    static func tcp(
        from source: TCPEndpoint, to destination: TCPEndpoint, sequence: UInt32, flags: UInt8, payload: [UInt8],
        ipOptions: Bool = false, extensionHeaders: Bool = false, fragment: Bool = false
    ) -> [UInt8] {
        var tcp = be16(source.port) + be16(destination.port) + be32(sequence) + be32(1)
        tcp += [0x50, flags] + be16(65535) + [0, 0, 0, 0]
        tcp += payload
        if source.address.count == 4 {
            let headerLength = ipOptions ? 24 : 20
            var ip: [UInt8] = [UInt8(0x40 | headerLength / 4), 0] + be16(UInt16(headerLength + tcp.count)) + [0, 1]
            ip += fragment ? [0x20, 0x00] : [0x40, 0x00]
            ip += [64, 6, 0, 0] + source.address + destination.address
            if ipOptions { ip += [0x01, 0x01, 0x01, 0x00] }  // NOP NOP NOP EOL
            return ip + tcp
        }
        var next: UInt8 = 6
        var extensions: [UInt8] = []
        if fragment {
            extensions = [6, 0, 0, 1, 0, 0, 0, 1]
            next = 44
        } else if extensionHeaders {
            extensions = [60, 0, 1, 4, 0, 0, 0, 0] + [6, 0, 1, 4, 0, 0, 0, 0]
            next = 0
        }
        var ip: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(extensions.count + tcp.count)) + [next, 64]
        ip += source.address + destination.address
        return ip + extensions + tcp
    }
}

/// A synthetic MedLedger conversation: a real handshake (deterministic keys and nonces) and
/// sealed messages both ways, as the library's own sealer produces them.
struct SyntheticConversation {
    enum Side { case initiator, responder }

    var frames: [(side: Side, bytes: [UInt8])] = []
    var keyLogLine: String
    var initiatorSealer: FrameSealer
    var responderSealer: FrameSealer

    static func key(_ byte: UInt8) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: SecureBytes([UInt8](repeating: byte, count: 32))) }

    init(seed: UInt8 = 1, chainID: String = "capture-test") {
        let initiatorKey = Self.key(seed)
        let responderKey = Self.key(seed &+ 1)
        var initiator = Handshake(
            role: .initiator, configuration: HandshakeConfiguration(chainID: chainID, channel: .peer, nodeKey: initiatorKey),
            ephemeralKey: try! X25519.PrivateKey(rawKey: SecureBytes([UInt8](repeating: seed &+ 2, count: 32))),
            nonce: Bytes32(repeating: seed &+ 3))
        var responder = Handshake(
            role: .responder, configuration: HandshakeConfiguration(chainID: chainID, channel: .peer, nodeKey: responderKey),
            ephemeralKey: try! X25519.PrivateKey(rawKey: SecureBytes([UInt8](repeating: seed &+ 4, count: 32))),
            nonce: Bytes32(repeating: seed &+ 5))
        var frames: [(side: Side, bytes: [UInt8])] = []
        let hello = initiator.start()!
        frames.append((.initiator, hello.bytes))
        guard case .send(let answer) = try! responder.receive(hello) else { fatalError("responder HELLO") }
        frames += answer.map { (.responder, $0.bytes) }
        guard case .send(let auth) = try! initiator.receive(answer[0]) else { fatalError("initiator AUTH") }
        frames += auth.map { (.initiator, $0.bytes) }
        guard case .established(let responderAuth, let responderSession) = try! responder.receive(auth[0]) else { fatalError("responder AUTH") }
        frames += responderAuth.map { (.responder, $0.bytes) }
        guard case .established(_, let initiatorSession) = try! initiator.receive(responderAuth[0]) else { fatalError("established") }
        self.frames = frames
        keyLogLine = initiatorSession.keyLogEntry.description
        initiatorSealer = initiatorSession.sealer
        responderSealer = responderSession.sealer
    }

    mutating func send(_ message: Message, from side: Side, compression: Frame.Compression = .never) {
        let frame: Frame
        switch side {
        case .initiator: frame = try! Frame.sealed(message, compression: compression, sealer: &initiatorSealer)
        case .responder: frame = try! Frame.sealed(message, compression: compression, sealer: &responderSealer)
        }
        frames.append((side, frame.bytes))
    }

    /// A typical exchange: status, a transaction, a proposal, votes, a committed block, pings.
    static func standard(seed: UInt8 = 1) -> SyntheticConversation {
        var c = SyntheticConversation(seed: seed)
        let validator = Bytes32(repeating: 0xAA)
        let signature = Bytes64(repeating: 0x55)
        let transaction = Transaction(txType: 10, signer: Bytes32(repeating: 0x11), nonce: 7, body: [UInt8](repeating: 0x42, count: 300), signature: signature)
        let header = BlockHeader(
            version: 1, chainID: "capture-test", height: 5, time: 1_700_000_000_000, previousHash: Bytes32(repeating: 1),
            lastCommitHash: Bytes32(repeating: 2), transactionsRoot: Bytes32(repeating: 3), evidenceRoot: Bytes32(repeating: 4),
            stateRoot: Bytes32(repeating: 5), validatorsHash: Bytes32(repeating: 6), nextValidatorsHash: Bytes32(repeating: 6),
            proposer: validator)
        let block = Block(header: header, transactions: [transaction], evidence: [], lastCommit: nil)
        let commit = CommitCertificate(
            height: 5, round: 0, blockHash: header.hash, signatures: [CommitSignature(validatorIndex: 0, timestamp: 1, signature: signature)])
        c.send(.status(Status(height: 4, blockHash: Bytes32(repeating: 9), baseHeight: 1, time: 1_700_000_000_000)), from: .initiator)
        c.send(.status(Status(height: 4, blockHash: Bytes32(repeating: 9), baseHeight: 1, time: 1_700_000_000_000)), from: .responder)
        c.send(.transaction(transaction), from: .initiator)
        c.send(
            .proposal(
                Proposal(height: 5, round: 0, polRound: nil, blockHash: header.hash, timestamp: 1, proposer: validator, signature: signature, block: block)),
            from: .responder, compression: .always)
        for type in [VoteType.prevote, .precommit] {
            for side in [Side.initiator, .responder] {
                c.send(
                    .vote(Vote(voteType: type, height: 5, round: 0, blockHash: header.hash, timestamp: 2, validator: validator, signature: signature)),
                    from: side)
            }
        }
        c.send(.block(CommittedBlock(block: block, commit: commit)), from: .initiator, compression: .default)
        c.send(.ping(Ping(nonce: 99)), from: .responder)
        c.send(.pong(Ping(nonce: 99)), from: .initiator)
        c.send(.blockRequest(BlockRequest(requestID: 3, startHeight: 5, count: 2)), from: .responder)
        return c
    }
}

/// Turns a conversation into TCP segments and packets, with the faults the tests ask for.
struct TCPConversationBuilder {
    var client = TCPEndpoint(address: [10, 0, 0, 1], port: 40_000)
    var server = TCPEndpoint(address: [10, 0, 0, 2], port: 26_656)
    var clientISN: UInt32 = 1_000
    var serverISN: UInt32 = 5_000
    var segmentSize = 200
    var handshake = true
    var ipOptions = false
    var extensionHeaders = false
    var startTime: Int64 = 1_764_072_000_000_000_000  // 2025-11-25T12:00:00Z

    static func ipv6() -> TCPConversationBuilder {
        var b = TCPConversationBuilder()
        b.client = TCPEndpoint(address: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 40_000)
        b.server = TCPEndpoint(address: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 26_656)
        return b
    }

    struct Segment {
        var fromClient: Bool
        var sequence: UInt32
        var flags: UInt8
        var payload: [UInt8]
    }

    /// Segments in sending order: SYN, SYN-ACK, ACK, then every frame cut into segments.
    func segments(_ conversation: SyntheticConversation) -> [Segment] {
        var out: [Segment] = []
        var clientSeq = clientISN
        var serverSeq = serverISN
        if handshake {
            out.append(Segment(fromClient: true, sequence: clientSeq, flags: PacketBuilder.syn, payload: []))
            out.append(Segment(fromClient: false, sequence: serverSeq, flags: PacketBuilder.syn | PacketBuilder.ack, payload: []))
            clientSeq &+= 1
            serverSeq &+= 1
            out.append(Segment(fromClient: true, sequence: clientSeq, flags: PacketBuilder.ack, payload: []))
        }
        for frame in conversation.frames {
            let fromClient = frame.side == .initiator
            var index = 0
            while index < frame.bytes.count {
                let piece = Array(frame.bytes[index..<Swift.min(index + segmentSize, frame.bytes.count)])
                let seq = fromClient ? clientSeq : serverSeq
                out.append(Segment(fromClient: fromClient, sequence: seq, flags: PacketBuilder.ack | PacketBuilder.psh, payload: piece))
                if fromClient { clientSeq &+= UInt32(piece.count) } else { serverSeq &+= UInt32(piece.count) }
                index += piece.count
            }
        }
        return out
    }

    func packets(_ segments: [Segment], link: LinkFraming) -> [CaptureWriter.Packet] {
        segments.enumerated().map { index, segment in
            let ip = PacketBuilder.tcp(
                from: segment.fromClient ? client : server, to: segment.fromClient ? server : client, sequence: segment.sequence,
                flags: segment.flags, payload: segment.payload, ipOptions: ipOptions, extensionHeaders: extensionHeaders)
            return CaptureWriter.Packet(time: startTime + Int64(index) * 1_000_123, data: link.wrap(ip, ipv6: client.address.count == 16))
        }
    }
}

/// Runs the inspector over capture bytes fed in chunks of `chunk` bytes.
func inspect(
    _ bytes: [UInt8], keyLog: String? = nil, chunk: Int = 1 << 20, json: Bool = false,
    configure: (inout CaptureOptions) -> Void = { _ in }
) -> (lines: [String], statistics: CaptureStatistics, error: CaptureError?) {
    var options = CaptureOptions()
    if let keyLog { options.keyLog = try! KeyLog.parse(keyLog) }
    configure(&options)
    let inspector = CaptureInspector(options: options)
    var lines: [String] = []
    let emit: (CaptureRecord) -> Void = { lines.append(json ? $0.json.description : $0.text) }
    var error: CaptureError?
    var index = 0
    do {
        while index < bytes.count {
            try inspector.feed(bytes[index..<Swift.min(index + chunk, bytes.count)], emit)
            index += chunk
        }
    } catch let e {
        error = e
    }
    do {
        try inspector.finish(emit)
    } catch let e {
        if error == nil { error = e }
    }
    return (lines, inspector.statistics, error)
}
