import MedLedgerWire

/// The link types the inspector decodes (the LINKTYPE_ values of the tcpdump.org registry).
public enum LinkType: UInt32, Sendable, CaseIterable {
    /// BSD loopback: a 4-byte address family in the byte order of the capturing host.
    case null = 0
    /// Ethernet II, with 802.1Q / 802.1ad VLAN tags.
    case ethernet = 1
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    case loop = 108
    /// Raw IP: the packet starts with an IPv4 or IPv6 header.
    case raw = 101
    /// Linux "cooked" capture, version 1 (`tcpdump -i any` before libpcap 1.10).
    case linuxSLL = 113
    /// Raw IPv4.
    case ipv4 = 228
    /// Raw IPv6.
    case ipv6 = 229
    /// Linux "cooked" capture, version 2 (`tcpdump -i any` from libpcap 1.10).
    case linuxSLL2 = 276

    public var name: String {
        switch self {
        case .null: "null"
        case .ethernet: "ethernet"
        case .loop: "loop"
        case .raw: "raw"
        case .linuxSLL: "linux_sll"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .linuxSLL2: "linux_sll2"
        }
    }
}

/// One packet of a capture, as its record or block gave it.
public struct CapturedPacket: Sendable {
    /// 1 for the first packet of the file.
    public var number: Int
    public var linkType: LinkType
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var timestamp: Int64
    /// The captured bytes (possibly fewer than were on the wire: the snapshot length).
    public var data: ArraySlice<UInt8>
    /// The packet's length on the wire.
    public var originalLength: Int
    /// Offset of the packet's record (pcap) or block (pcapng) in the file.
    public var fileOffset: Int
}

/// Reads pcap and pcapng captures incrementally, from the formats' specifications alone: bytes
/// go in as they arrive (a file read in chunks, or `tcpdump -U -w -` on a pipe), packets come out
/// as soon as their record is complete.
///
/// pcap: microsecond and nanosecond magic, either byte order. pcapng: any number of sections of
/// either byte order, several interfaces each with its own link type, snapshot length and
/// `if_tsresol` / `if_tsoffset`; enhanced, simple and (obsolete) packet blocks; every other block
/// is skipped by its length. Every length is checked against its limit before anything is
/// buffered for it.
public struct CaptureReader: Sendable {
    /// The longest packet accepted, whatever a file's snapshot length says (tcpdump's default
    /// snapshot length, and Wireshark's standard maximum).
    public static let maxPacketBytes = 262_144
    /// The longest pcapng block accepted.
    public static let maxBlockBytes = 16 * 1024 * 1024

    /// Which format the file turned out to be.
    public enum Format: String, Sendable {
        case pcap
        case pcapng
    }

    struct Interface: Sendable {
        var linkType: LinkType
        var snapLength: Int
        /// Time stamp units: 10^-exponent seconds (decimal) or 2^-exponent (binary).
        var resolutionDecimal = true
        var resolutionExponent = 6
        var offsetSeconds: Int64 = 0
    }

    private var buffer: [UInt8] = []
    private var position = 0
    /// File offset of `buffer[0]`.
    private var base = 0
    private var packetCount = 0
    public private(set) var format: Format?
    // pcap
    private var littleEndian = true
    private var nanosecondPcap = false
    private var pcapInterface: Interface?
    // pcapng
    private var interfaces: [Interface] = []
    private var failure: CaptureError?

    public init() {}

    /// Bytes read from the input so far.
    public var bytesRead: Int { base + buffer.count }

    /// Bytes held back until their record is complete.
    public var bufferedByteCount: Int { buffer.count - position }

    /// Link types of the interfaces seen so far (one for pcap).
    public var linkTypes: [LinkType] {
        if let pcapInterface { return [pcapInterface.linkType] }
        return interfaces.map(\.linkType)
    }

    /// Adds bytes read from the input.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if position > 0, position >= buffer.count - position {
            buffer.removeFirst(position)
            base += position
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete packet, or nil until more bytes arrive.
    public mutating func next() throws(CaptureError) -> CapturedPacket? {
        if let failure { throw failure }
        do {
            return try nextPacket()
        } catch {
            failure = error
            throw error
        }
    }

    /// Called at the end of the input: bytes left over are a truncated record.
    public func finish() throws(CaptureError) {
        if let failure { throw failure }
        let left = buffer.count - position
        guard left == 0 else {
            let what = format == nil ? "file header" : (format == .pcap ? "packet record" : "block")
            throw CaptureError(.truncated, at: base + position, "the input ends inside a \(what) (\(left) bytes of it present)")
        }
        if format == nil {
            throw CaptureError(.truncated, at: 0, "the input is empty: no capture file header")
        }
    }

    // MARK: Parsing

    private var available: Int { buffer.count - position }

    @inline(__always)
    private func u16(_ at: Int, little: Bool) -> UInt16 {
        let value = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) }
        return little ? UInt16(littleEndian: value) : UInt16(bigEndian: value)
    }

    @inline(__always)
    private func u32(_ at: Int, little: Bool) -> UInt32 {
        let value = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
        return little ? UInt32(littleEndian: value) : UInt32(bigEndian: value)
    }

    private mutating func nextPacket() throws(CaptureError) -> CapturedPacket? {
        if format == nil {
            guard available >= 4 else { return nil }
            let magic = Array(buffer[position..<position + 4])
            switch magic {
            case [0x0A, 0x0D, 0x0D, 0x0A]:
                format = .pcapng
            case [0xD4, 0xC3, 0xB2, 0xA1], [0xA1, 0xB2, 0xC3, 0xD4], [0x4D, 0x3C, 0xB2, 0xA1], [0xA1, 0xB2, 0x3C, 0x4D]:
                guard try readPcapHeader() else { return nil }
                format = .pcap
            default:
                throw CaptureError(
                    .notACapture, at: base + position,
                    "the magic \(Hex.encode(magic)) is neither pcap (a1b2c3d4, a1b23c4d, either byte order) nor pcapng (0a0d0d0a)")
            }
        }
        switch format {
        case .pcap: return try nextPcapRecord()
        default: return try nextPcapngBlock()
        }
    }

    /// The 24-byte pcap file header; false until it is all there.
    private mutating func readPcapHeader() throws(CaptureError) -> Bool {
        guard available >= 24 else { return false }
        let p = position
        let magic = buffer[p..<p + 4]
        littleEndian = magic.first == 0xD4 || magic.first == 0x4D
        nanosecondPcap = magic.elementsEqual([0x4D, 0x3C, 0xB2, 0xA1]) || magic.elementsEqual([0xA1, 0xB2, 0x3C, 0x4D])
        let major = u16(p + 4, little: littleEndian)
        guard major == 2 else {
            throw CaptureError(.notACapture, at: base + p + 4, "pcap version \(major) is not 2")
        }
        let snap = Int(u32(p + 16, little: littleEndian))
        let rawLink = u32(p + 20, little: littleEndian) & 0x03FF_FFFF
        guard let link = LinkType(rawValue: rawLink) else {
            throw CaptureError(.unknownLinkType, at: base + p + 20, Self.unknownLinkDetail(rawLink))
        }
        pcapInterface = Interface(linkType: link, snapLength: snap, resolutionExponent: nanosecondPcap ? 9 : 6)
        position += 24
        return true
    }

    static func unknownLinkDetail(_ raw: UInt32) -> String {
        "link type \(raw) is not decoded (supported: "
            + LinkType.allCases.map { "\($0.rawValue) \($0.name)" }.joined(separator: ", ") + ")"
    }

    private mutating func nextPcapRecord() throws(CaptureError) -> CapturedPacket? {
        guard available >= 16, let interface = pcapInterface else { return nil }
        let p = position
        let seconds = Int64(u32(p, little: littleEndian))
        let fraction = Int64(u32(p + 4, little: littleEndian))
        let captured = Int(u32(p + 8, little: littleEndian))
        let original = Int(u32(p + 12, little: littleEndian))
        try checkCapturedLength(captured, snapLength: interface.snapLength, at: base + p + 8)
        guard available >= 16 + captured else { return nil }
        packetCount += 1
        let timestamp = seconds &* 1_000_000_000 &+ (nanosecondPcap ? fraction : fraction &* 1_000)
        let packet = CapturedPacket(
            number: packetCount, linkType: interface.linkType, timestamp: timestamp,
            data: buffer[p + 16..<p + 16 + captured], originalLength: original, fileOffset: base + p)
        position += 16 + captured
        return packet
    }

    private func checkCapturedLength(_ captured: Int, snapLength: Int, at offset: Int) throws(CaptureError) {
        if captured > Self.maxPacketBytes {
            throw CaptureError(
                .packetTooLarge, at: offset, "captured length \(captured) exceeds the hard maximum of \(Self.maxPacketBytes) bytes")
        }
        if snapLength > 0, captured > snapLength {
            throw CaptureError(
                .packetTooLarge, at: offset, "captured length \(captured) exceeds the snapshot length \(snapLength) of its interface")
        }
    }

    private mutating func nextPcapngBlock() throws(CaptureError) -> CapturedPacket? {
        while true {
            guard available >= 12 else { return nil }
            let p = position
            let rawType = u32(p, little: true)
            if rawType == 0x0A0D_0D0A {
                // A section header: its byte-order magic decides how to read everything in it.
                switch (buffer[p + 8], buffer[p + 9], buffer[p + 10], buffer[p + 11]) {
                case (0x4D, 0x3C, 0x2B, 0x1A): littleEndian = true
                case (0x1A, 0x2B, 0x3C, 0x4D): littleEndian = false
                default:
                    throw CaptureError(
                        .notACapture, at: base + p + 8,
                        "section header byte-order magic \(Hex.encode(buffer[p + 8..<p + 12])) is not 1a2b3c4d in either byte order")
                }
            }
            let type = u32(p, little: littleEndian)
            let length = Int(u32(p + 4, little: littleEndian))
            let minimum = type == 0x0A0D_0D0A ? 28 : 12
            guard length >= minimum, length % 4 == 0, length <= Self.maxBlockBytes else {
                throw CaptureError(
                    .badLength, at: base + p + 4,
                    "block length \(length) must be a multiple of 4 from \(minimum) to \(Self.maxBlockBytes)")
            }
            guard available >= length else { return nil }
            let trailer = Int(u32(p + length - 4, little: littleEndian))
            guard trailer == length else {
                throw CaptureError(
                    .badLength, at: base + p + length - 4, "the block's closing length \(trailer) differs from its opening length \(length)")
            }
            let packet: CapturedPacket?
            switch type {
            case 0x0A0D_0D0A:
                let major = u16(p + 12, little: littleEndian)
                guard major == 1 else {
                    throw CaptureError(.notACapture, at: base + p + 12, "pcapng major version \(major) is not 1")
                }
                interfaces = []
                packet = nil
            case 1:
                try readInterface(at: p, length: length)
                packet = nil
            case 6:
                packet = try enhancedPacket(at: p, length: length)
            case 3:
                packet = try simplePacket(at: p, length: length)
            case 2:
                packet = try obsoletePacket(at: p, length: length)
            default:
                packet = nil
            }
            position += length
            if let packet { return packet }
        }
    }

    private mutating func readInterface(at p: Int, length: Int) throws(CaptureError) {
        guard length >= 20 else {
            throw CaptureError(.badLength, at: base + p + 4, "an interface description block needs 20 bytes, its length is \(length)")
        }
        let rawLink = UInt32(u16(p + 8, little: littleEndian))
        guard let link = LinkType(rawValue: rawLink) else {
            throw CaptureError(.unknownLinkType, at: base + p + 8, Self.unknownLinkDetail(rawLink))
        }
        var interface = Interface(linkType: link, snapLength: Int(u32(p + 12, little: littleEndian)))
        // Options: code, length, value padded to 4 bytes; code 0 ends them.
        var option = p + 16
        let end = p + length - 4
        while option + 4 <= end {
            let code = u16(option, little: littleEndian)
            let size = Int(u16(option + 2, little: littleEndian))
            if code == 0 { break }
            guard option + 4 + size <= end else {
                throw CaptureError(.badLength, at: base + option + 2, "option \(code) of \(size) bytes runs past its block")
            }
            if code == 9, size >= 1 {
                let value = buffer[option + 4]
                interface.resolutionDecimal = value & 0x80 == 0
                interface.resolutionExponent = Int(value & 0x7F)
            } else if code == 14, size == 8 {
                let high = UInt64(u32(option + 4, little: littleEndian))
                let low = UInt64(u32(option + 8, little: littleEndian))
                let value = littleEndian ? (low << 32 | high) : (high << 32 | low)
                interface.offsetSeconds = Int64(bitPattern: value)
            }
            option += 4 + (size + 3) & ~3
        }
        interfaces.append(interface)
    }

    private func interface(_ id: Int, at offset: Int) throws(CaptureError) -> Interface {
        guard id < interfaces.count else {
            throw CaptureError(
                .unknownInterface, at: offset, "the packet names interface \(id), but the section describes \(interfaces.count)")
        }
        return interfaces[id]
    }

    private mutating func enhancedPacket(at p: Int, length: Int) throws(CaptureError) -> CapturedPacket {
        guard length >= 32 else {
            throw CaptureError(.badLength, at: base + p + 4, "an enhanced packet block needs 32 bytes, its length is \(length)")
        }
        let interface = try interface(Int(u32(p + 8, little: littleEndian)), at: base + p + 8)
        let units = UInt64(u32(p + 12, little: littleEndian)) << 32 | UInt64(u32(p + 16, little: littleEndian))
        let captured = Int(u32(p + 20, little: littleEndian))
        let original = Int(u32(p + 24, little: littleEndian))
        guard captured <= length - 32 else {
            throw CaptureError(.badLength, at: base + p + 20, "captured length \(captured) runs past its block of \(length) bytes")
        }
        try checkCapturedLength(captured, snapLength: interface.snapLength, at: base + p + 20)
        packetCount += 1
        return CapturedPacket(
            number: packetCount, linkType: interface.linkType, timestamp: Self.nanoseconds(units, interface),
            data: buffer[p + 28..<p + 28 + captured], originalLength: original, fileOffset: base + p)
    }

    private mutating func simplePacket(at p: Int, length: Int) throws(CaptureError) -> CapturedPacket {
        let interface = try interface(0, at: base + p)
        let original = Int(u32(p + 8, little: littleEndian))
        var captured = Swift.min(original, length - 16)
        if interface.snapLength > 0 { captured = Swift.min(captured, interface.snapLength) }
        try checkCapturedLength(captured, snapLength: 0, at: base + p + 8)
        packetCount += 1
        return CapturedPacket(
            number: packetCount, linkType: interface.linkType, timestamp: 0,
            data: buffer[p + 12..<p + 12 + captured], originalLength: original, fileOffset: base + p)
    }

    private mutating func obsoletePacket(at p: Int, length: Int) throws(CaptureError) -> CapturedPacket {
        guard length >= 32 else {
            throw CaptureError(.badLength, at: base + p + 4, "a packet block needs 32 bytes, its length is \(length)")
        }
        let interface = try interface(Int(u16(p + 8, little: littleEndian)), at: base + p + 8)
        let units = UInt64(u32(p + 12, little: littleEndian)) << 32 | UInt64(u32(p + 16, little: littleEndian))
        let captured = Int(u32(p + 20, little: littleEndian))
        let original = Int(u32(p + 24, little: littleEndian))
        guard captured <= length - 32 else {
            throw CaptureError(.badLength, at: base + p + 20, "captured length \(captured) runs past its block of \(length) bytes")
        }
        try checkCapturedLength(captured, snapLength: interface.snapLength, at: base + p + 20)
        packetCount += 1
        return CapturedPacket(
            number: packetCount, linkType: interface.linkType, timestamp: Self.nanoseconds(units, interface),
            data: buffer[p + 28..<p + 28 + captured], originalLength: original, fileOffset: base + p)
    }

    /// A pcapng time stamp in its interface's units, as nanoseconds since the epoch (wrapping on
    /// absurd values rather than trapping: a bogus time stamp is not worth stopping for).
    static func nanoseconds(_ units: UInt64, _ interface: Interface) -> Int64 {
        let offset = interface.offsetSeconds &* 1_000_000_000
        let exponent = interface.resolutionExponent
        if interface.resolutionDecimal {
            if exponent <= 9 {
                var scale: UInt64 = 1
                for _ in 0..<(9 - exponent) { scale &*= 10 }
                return Int64(bitPattern: units &* scale) &+ offset
            }
            var scale: UInt64 = 1
            for _ in 0..<Swift.min(exponent - 9, 19) { scale &*= 10 }
            return Int64(bitPattern: units / scale) &+ offset
        }
        let shift = UInt64(Swift.min(exponent, 63))
        let seconds = units >> shift
        let fraction = units & ((1 << shift) &- 1)
        let nanos = UInt64((Double(fraction) / Double(UInt64(1) << shift)) * 1e9)
        return Int64(bitPattern: seconds &* 1_000_000_000 &+ nanos) &+ offset
    }
}
