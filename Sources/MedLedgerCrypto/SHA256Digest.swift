/// A SHA-256 digest: exactly 32 bytes.
///
/// Two digests are equal when their bytes are equal. Its `description` is the
/// lowercase hexadecimal form, as printed by `sha256sum`.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    /// The length of a SHA-256 digest in bytes.
    public static let byteCount = 32

    /// The digest's 32 bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes` as a digest, or returns nil unless there are exactly 32 of them.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// Wraps bytes that the caller knows are a digest, such as OpenSSL's output.
    init(uncheckedBytes bytes: [UInt8]) {
        assert(bytes.count == Self.byteCount)
        self.bytes = bytes
    }

    /// The digest as 64 lowercase hexadecimal digits.
    public var hex: String {
        lowercaseHex(bytes)
    }

    /// The digest as 64 lowercase hexadecimal digits.
    public var description: String {
        hex
    }
}
