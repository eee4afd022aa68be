/// The flag bits of a frame header.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The payload is `u32 inflated_length` followed by a zlib stream.
    public static let compressed = FrameFlags(rawValue: 0x01)
    /// The payload is sealed with AES-256-GCM under the channel key.
    public static let sealed = FrameFlags(rawValue: 0x02)

    /// Every bit this version defines.
    public static let known: FrameFlags = [.compressed, .sealed]

    /// The names of the set flags, in bit order (as the JSON rendering lists them).
    public var names: [String] {
        var names: [String] = []
        if contains(.compressed) { names.append("compressed") }
        if contains(.sealed) { names.append("sealed") }
        return names
    }
}

/// The fixed 16-byte header in front of every frame (Protocol/WIRE.md section 2).
public struct FrameHeader: Hashable, Sendable {
    /// `MLDG`.
    public static let magic: [UInt8] = [0x4D, 0x4C, 0x44, 0x47]
    /// The protocol versions this code speaks.
    public static let supportedVersions: ClosedRange<UInt8> = 1...1
    /// The version every `HELLO` is sent with, whatever the sender supports.
    public static let helloVersion: UInt8 = 1

    public var version: UInt8
    public var type: MessageType
    public var flags: FrameFlags
    /// Payload bytes that follow the header.
    public var length: UInt32

    public init(version: UInt8 = 1, type: MessageType, flags: FrameFlags = [], length: UInt32) {
        self.version = version
        self.type = type
        self.flags = flags
        self.length = length
    }

    /// The 16 header bytes, CRC included.
    public var bytes: [UInt8] {
        var writer = ByteWriter(reservingCapacity: WireLimits.headerSize)
        writer.writeRaw(FrameHeader.magic)
        writer.write(version)
        writer.write(type.rawValue)
        writer.write(flags.rawValue)
        writer.write(UInt8(0))
        writer.write(length)
        writer.write(Zlib.crc32(writer.bytes))
        return writer.bytes
    }

    /// Parses and checks a header at the start of `bytes`, in the order WIRE.md section 2 gives.
    ///
    /// `bytes` must hold at least 16 bytes. Errors are in the `frame` layer.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(WireError) -> FrameHeader {
        let s = bytes.startIndex
        guard bytes.count >= WireLimits.headerSize else {
            throw WireError(.truncated, layer: .frame, offset: 0, "a frame header needs 16 bytes, \(bytes.count) present")
        }
        guard bytes[s..<s + 4].elementsEqual(magic) else {
            throw WireError(.badMagic, layer: .frame, offset: 0, "the frame does not start with the magic MLDG (4d4c4447)")
        }
        let stored = bytes[s + 12..<s + 16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let computed = Zlib.crc32(Array(bytes[s..<s + 12]))
        guard stored == computed else {
            throw WireError(
                .headerChecksumMismatch, layer: .frame, offset: 12,
                "header CRC is \(hex32(stored)) but bytes 0-11 give \(hex32(computed))")
        }
        let version = bytes[s + 4]
        guard supportedVersions.contains(version) else {
            throw WireError(
                .unsupportedVersion, layer: .frame, offset: 4,
                "protocol version \(version) is not supported (this node speaks \(supportedVersions.lowerBound)-\(supportedVersions.upperBound))")
        }
        guard let type = MessageType(rawValue: bytes[s + 5]) else {
            throw WireError(.unknownMessageType, layer: .frame, offset: 5, "message type 0x\(hex8(bytes[s + 5])) is not defined")
        }
        let flags = FrameFlags(rawValue: bytes[s + 6])
        guard FrameFlags.known.isSuperset(of: flags) else {
            throw WireError(.unknownFlags, layer: .frame, offset: 6, "flags 0x\(hex8(flags.rawValue)) set undefined bits")
        }
        guard bytes[s + 7] == 0 else {
            throw WireError(.reservedNotZero, layer: .frame, offset: 7, "reserved byte is 0x\(hex8(bytes[s + 7])), must be 0")
        }
        let length = bytes[s + 8..<s + 12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard length <= WireLimits.maxFramePayload else {
            throw WireError(
                .frameTooLarge, layer: .frame, offset: 8,
                "payload length \(length) exceeds the limit of \(WireLimits.maxFramePayload) bytes")
        }
        if flags.contains(.sealed), length < WireLimits.sealTagSize {
            throw WireError(
                .sealedPayloadTooShort, layer: .frame, offset: 8,
                "a sealed payload needs at least its 16-byte tag, length is \(length)")
        }
        return FrameHeader(version: version, type: type, flags: flags, length: length)
    }
}

func hex8(_ value: UInt8) -> String { Hex.encode([value]) }

func hex32(_ value: UInt32) -> String {
    "0x" + Hex.encode([UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
}
