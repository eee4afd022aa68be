/// An IPv4 or IPv6 address, compact enough to key a connection table with.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (`::` allowed); nil when it is neither.
    public init?(_ text: String) {
        if text.contains(":") {
            let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
            guard halves.count <= 2 else { return nil }
            func groups(_ part: String) -> [UInt16]? {
                part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false).map { UInt16($0, radix: 16) }
                    .reduce([UInt16]?([])) { list, group in group.flatMap { g in list.map { $0 + [g] } } }
            }
            guard let head = groups(halves[0]) else { return nil }
            var all = head
            if halves.count == 2 {
                guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
                all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
            }
            guard all.count == 8 else { return nil }
            let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
            let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
            self = .v6(high, low)
        } else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
            guard parts.count == 4, parts.allSatisfy({ $0 != nil }) else { return nil }
            self = .v4(parts.reduce(UInt32(0)) { $0 << 8 | UInt32($1!) })
        }
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let high, let low):
            let groups = (0..<8).map { index -> UInt16 in
                let word = index < 4 ? high : low
                return UInt16(truncatingIfNeeded: word >> (UInt64(3 - index % 4) * 16))
            }
            // RFC 5952: the longest run of two or more zero groups becomes "::".
            var best = (start: -1, count: 0)
            var index = 0
            while index < 8 {
                if groups[index] == 0 {
                    var end = index
                    while end < 8, groups[end] == 0 { end += 1 }
                    if end - index > best.count { best = (index, end - index) }
                    index = end
                } else {
                    index += 1
                }
            }
            let hex = groups.map { String($0, radix: 16) }
            guard best.count >= 2 else { return hex.joined(separator: ":") }
            return hex[0..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.count)...].joined(separator: ":")
        }
    }
}

/// An address and a TCP port.
public struct CaptureEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String {
        if case .v6 = address { return "[\(address)]:\(port)" }
        return "\(address):\(port)"
    }
}

/// The TCP part of one captured packet.
struct TCPSegment {
    var source: CaptureEndpoint
    var destination: CaptureEndpoint
    var sequence: UInt32
    var syn: Bool
    var ack: Bool
    var fin: Bool
    var rst: Bool
    /// The payload bytes the capture holds.
    var payload: ArraySlice<UInt8>
    /// Payload bytes that were on the wire but not captured (the snapshot length cut them).
    var missing: Int
}

/// What a packet turned out to be.
enum PacketDecoding {
    case tcp(TCPSegment)
    /// Not IP, or not TCP: counted, not reported.
    case ignored
    /// Something the reader cannot follow in this packet (an IP fragment, headers cut short).
    case note(String)

    /// Decodes the link, IP and TCP headers of `packet`.
    static func decode(_ packet: CapturedPacket) -> PacketDecoding {
        let data = packet.data
        let s = data.startIndex
        var ip = s
        var version: UInt8?
        switch packet.linkType {
        case .ethernet:
            guard data.count >= 14 else { return .note("Ethernet header cut short (\(data.count) bytes)") }
            var etherType = be16(data, s + 12)
            ip = s + 14
            var tags = 0
            while etherType == 0x8100 || etherType == 0x88A8 || etherType == 0x9100 {
                tags += 1
                guard tags <= 4, data.endIndex - ip >= 4 else { return .note("VLAN tags cut short or nested too deep") }
                etherType = be16(data, ip + 2)
                ip += 4
            }
            version = etherVersion(etherType)
            guard version != nil else { return .ignored }
        case .linuxSLL:
            guard data.count >= 16 else { return .note("Linux cooked header cut short (\(data.count) bytes)") }
            version = etherVersion(be16(data, s + 14))
            ip = s + 16
            guard version != nil else { return .ignored }
        case .linuxSLL2:
            guard data.count >= 20 else { return .note("Linux cooked v2 header cut short (\(data.count) bytes)") }
            version = etherVersion(be16(data, s))
            ip = s + 20
            guard version != nil else { return .ignored }
        case .null, .loop:
            guard data.count >= 4 else { return .note("loopback header cut short (\(data.count) bytes)") }
            // The family is in the capturing host's byte order (NULL) or network order (LOOP);
            // real captures show both, so either is accepted.
            let big = UInt32(be16(data, s)) << 16 | UInt32(be16(data, s + 2))
            let little = big.byteSwapped
            let family = big < 256 ? big : little
            switch family {
            case 2: version = 4
            case 10, 24, 28, 30: version = 6
            default: return .ignored
            }
            ip = s + 4
        case .raw:
            ip = s
        case .ipv4:
            version = 4
        case .ipv6:
            version = 6
        }
        guard ip < data.endIndex else { return .note("no IP header") }
        let found = data[ip] >> 4
        if let version, version != found { return .note("IPv\(version) expected, the header says version \(found)") }
        switch found {
        case 4: return ipv4(data, ip, originalLength: packet.originalLength)
        case 6: return ipv6(data, ip)
        default: return .ignored
        }
    }

    private static func etherVersion(_ type: UInt16) -> UInt8? {
        switch type {
        case 0x0800: 4
        case 0x86DD: 6
        default: nil
        }
    }

    @inline(__always)
    static func be16(_ data: ArraySlice<UInt8>, _ at: Int) -> UInt16 { UInt16(data[at]) << 8 | UInt16(data[at + 1]) }

    @inline(__always)
    static func be32(_ data: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3])
    }

    private static func ipv4(_ data: ArraySlice<UInt8>, _ ip: Int, originalLength: Int) -> PacketDecoding {
        guard data.endIndex - ip >= 20 else { return .note("IPv4 header cut short") }
        let headerLength = Int(data[ip] & 0x0F) * 4
        guard headerLength >= 20 else { return .note("IPv4 header length \(headerLength) is below 20") }
        guard data.endIndex - ip >= headerLength else { return .note("IPv4 options cut short") }
        var total = Int(be16(data, ip + 2))
        // A segmentation-offloaded packet captured on its way out can say 0.
        if total == 0 { total = data.endIndex - ip }
        guard total >= headerLength else { return .note("IPv4 total length \(total) is below its header length") }
        let fragment = be16(data, ip + 6)
        let source = CaptureEndpoint(address: .v4(be32(data, ip + 12)), port: 0)
        let destination = CaptureEndpoint(address: .v4(be32(data, ip + 16)), port: 0)
        guard data[ip + 9] == 6 else { return .ignored }
        if fragment & 0x2000 != 0 || fragment & 0x1FFF != 0 {
            return .note(
                "IPv4 fragment \(source.address) → \(destination.address) (offset \(Int(fragment & 0x1FFF) * 8)) skipped: fragments are not reassembled")
        }
        return tcp(data, ip + headerLength, end: ip + total, source: source, destination: destination)
    }

    private static func ipv6(_ data: ArraySlice<UInt8>, _ ip: Int) -> PacketDecoding {
        guard data.endIndex - ip >= 40 else { return .note("IPv6 header cut short") }
        func address(_ at: Int) -> IPAddress {
            .v6(UInt64(be32(data, at)) << 32 | UInt64(be32(data, at + 4)), UInt64(be32(data, at + 8)) << 32 | UInt64(be32(data, at + 12)))
        }
        let source = CaptureEndpoint(address: address(ip + 8), port: 0)
        let destination = CaptureEndpoint(address: address(ip + 24), port: 0)
        let payloadLength = Int(be16(data, ip + 4))
        let end = payloadLength == 0 ? data.endIndex : ip + 40 + payloadLength
        var next = data[ip + 6]
        var header = ip + 40
        // Extension headers: hop-by-hop, routing, destination options, AH; a fragment header
        // means a fragment, which is not reassembled.
        for _ in 0..<16 {
            switch next {
            case 6:
                return tcp(data, header, end: end, source: source, destination: destination)
            case 0, 43, 60, 51:
                guard data.endIndex - header >= 2 else { return .note("IPv6 extension header cut short") }
                let length = next == 51 ? (Int(data[header + 1]) + 2) * 4 : (Int(data[header + 1]) + 1) * 8
                next = data[header]
                header += length
            case 44:
                return .note("IPv6 fragment \(source.address) → \(destination.address) skipped: fragments are not reassembled")
            default:
                return .ignored
            }
        }
        return .note("IPv6 extension header chain too long")
    }

    private static func tcp(
        _ data: ArraySlice<UInt8>, _ at: Int, end: Int, source: CaptureEndpoint, destination: CaptureEndpoint
    ) -> PacketDecoding {
        guard end - at >= 20 else { return .note("TCP header longer than its IP packet") }
        guard data.endIndex - at >= 20 else { return .note("TCP header cut short by the snapshot length") }
        let headerLength = Int(data[at + 12] >> 4) * 4
        guard headerLength >= 20, at + headerLength <= end else { return .note("TCP header length \(headerLength) does not fit") }
        guard data.endIndex - at >= headerLength else { return .note("TCP options cut short by the snapshot length") }
        let flags = data[at + 13]
        var source = source
        var destination = destination
        source.port = be16(data, at)
        destination.port = be16(data, at + 2)
        let payloadStart = at + headerLength
        let capturedEnd = Swift.min(end, data.endIndex)
        let payload = payloadStart < capturedEnd ? data[payloadStart..<capturedEnd] : data[capturedEnd..<capturedEnd]
        return .tcp(
            TCPSegment(
                source: source, destination: destination, sequence: be32(data, at + 4), syn: flags & 0x02 != 0,
                ack: flags & 0x10 != 0, fin: flags & 0x01 != 0, rst: flags & 0x04 != 0, payload: payload,
                missing: Swift.max(0, end - Swift.max(capturedEnd, payloadStart))))
    }
}
