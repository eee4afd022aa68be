/// Exactly 32 bytes: a public key, an ephemeral key, a nonce or a SHA-256 hash.
public struct Bytes32: Hashable, Sendable, Comparable, CustomStringConvertible, WireCodable {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes`, or returns nil unless there are exactly 32.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Thirty-two zero bytes (the "no previous block" hash).
    public static let zero = Bytes32(repeating: 0)

    /// Thirty-two copies of `byte` (handy in tests and vectors).
    public init(repeating byte: UInt8) { bytes = Array(repeating: byte, count: 32) }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        guard let raw = Hex.decode(hex), raw.count == 32 else { return nil }
        bytes = raw
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public static func < (lhs: Bytes32, rhs: Bytes32) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public func encode(to writer: inout ByteWriter) { writer.writeRaw(bytes) }

    public init(from reader: inout ByteReader) throws(WireError) {
        bytes = try reader.readFixed(32)
    }
}

/// Exactly 64 bytes: an Ed25519 signature.
public struct Bytes64: Hashable, Sendable, CustomStringConvertible, WireCodable {
    /// The 64 bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes`, or returns nil unless there are exactly 64.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 64 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Sixty-four copies of `byte`.
    public init(repeating byte: UInt8) { bytes = Array(repeating: byte, count: 64) }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public func encode(to writer: inout ByteWriter) { writer.writeRaw(bytes) }

    public init(from reader: inout ByteReader) throws(WireError) {
        bytes = try reader.readFixed(64)
    }
}

/// Lower-case hex, as every MedLedger format and tool writes it.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes`.
    public static func encode<C: Sequence>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex digits (either case); nil on an odd count or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for char in text.utf8 {
            guard let nibble = nibble(char) else { return nil }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? out : nil
    }

    static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case 0x30...0x39: char - 0x30
        case 0x61...0x66: char - 0x61 + 10
        case 0x41...0x46: char - 0x41 + 10
        default: nil
        }
    }
}
