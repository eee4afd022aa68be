/// SHA-256 (FIPS 180-4) over OpenSSL.
///
/// Use ``hash(_:)`` when all the bytes are at hand, and ``Hasher`` to feed them piece by piece.
public enum SHA256 {
    /// Returns the SHA-256 digest of `bytes`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> SHA256Digest where Bytes.Element == UInt8 {
        let digest =
            bytes.withContiguousStorageIfAvailable { OpenSSL.sha256(UnsafeRawBufferPointer($0)) }
            ?? Array(bytes).withUnsafeBytes { OpenSSL.sha256($0) }
        return SHA256Digest(uncheckedBytes: digest)
    }

    /// An incremental SHA-256 computation.
    ///
    /// Feed it with ``update(_:)`` as often as needed and read the digest with ``finalize()``.
    /// It has value semantics: a copy carries on independently of the original.
    public struct Hasher {
        /// The OpenSSL state, shared between copies until one of them is updated.
        private var context: OpenSSL.SHA256Context

        /// Starts a hash over no bytes.
        public init() {
            context = OpenSSL.SHA256Context()
        }

        /// Appends `bytes` to the data being hashed.
        public mutating func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            if !isKnownUniquelyReferenced(&context) {
                context = OpenSSL.SHA256Context(copying: context)
            }
            let context = self.context
            if bytes.withContiguousStorageIfAvailable({ context.update(UnsafeRawBufferPointer($0)) }) == nil {
                Array(bytes).withUnsafeBytes { context.update($0) }
            }
        }

        /// Returns the digest of every byte fed so far.
        ///
        /// The hasher is left as it was: more bytes may follow, and a later
        /// `finalize()` covers them as well.
        public func finalize() -> SHA256Digest {
            SHA256Digest(uncheckedBytes: OpenSSL.SHA256Context(copying: context).finalize())
        }
    }
}

// The OpenSSL context inside is mutable shared state; a hasher stays on one task.
@available(*, unavailable)
extension SHA256.Hasher: Sendable {}
