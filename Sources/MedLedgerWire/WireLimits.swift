/// Every size limit of the wire protocol, in one place (Protocol/WIRE.md sections 2 to 5).
public enum WireLimits {
    /// Bytes in a frame header.
    public static let headerSize = 16
    /// Largest payload on the wire, after compression and sealing.
    public static let maxFramePayload = 8 * 1024 * 1024
    /// Largest inflated payload of a compressed frame.
    public static let maxInflatedPayload = 16 * 1024 * 1024
    /// The AES-GCM tag that ends every sealed payload.
    public static let sealTagSize = 16
    /// Sealed frames one key may protect before the connection must be re-established.
    public static let maxSealedFramesPerKey: UInt64 = 1 << 32

    public static let chainIDMaxLength = 64
    public static let transactionBodyMax = 65_536
    public static let disconnectReasonMax = 512
    public static let blockTransactionsMax = 10_000
    public static let blockEvidenceMax = 100
    public static let commitSignaturesMax = 256
    public static let blockRequestCountMax: UInt16 = 64
    public static let blockResponseBlocksMax = 64
    public static let clientBodyMax = 4 * 1024 * 1024
    public static let clientErrorMessageMax = 1024
    public static let clientEventBodyMax = 1024 * 1024
    /// A record's ciphertext (`RECORD_BLOB.total`, Protocol/CLIENT.md section 5.1).
    public static let recordCiphertextMax = 64 * 1024 * 1024
    /// One `RECORD_BLOB` chunk.
    public static let recordChunkMax = 1024 * 1024
}

/// A type with one canonical encoding.
public protocol WireEncodable {
    /// Appends the canonical encoding of `self`.
    func encode(to writer: inout ByteWriter)
}

/// A type that decodes strictly from its canonical encoding.
public protocol WireDecodable {
    /// Reads one value, enforcing every rule of its fields.
    init(from reader: inout ByteReader) throws(WireError)
}

/// A type that both encodes and decodes canonically.
public typealias WireCodable = WireEncodable & WireDecodable

extension WireEncodable {
    /// The canonical encoding of `self`.
    public var canonicalBytes: [UInt8] {
        var writer = ByteWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension WireDecodable {
    /// Decodes a complete value from `bytes`; bytes left over are `trailing_bytes`.
    public init(canonicalBytes bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        self = try Self(from: &reader)
        try reader.expectEnd()
    }
}
