import MedLedgerCrypto
import MedLedgerWire

/// A SHA-256 value held inline as four big-endian words, so that trie nodes carry their hashes
/// without a heap allocation each, and path bits are a shift away (Protocol/STATE.md section 2).
///
/// Word `w0` holds bytes 0 to 7 of the hash, most significant byte first; bit `i` of a path is
/// bit `7 - i % 8` of byte `i / 8`, that is bit `63 - i % 64` of word `i / 64`.
package struct StateHash: Hashable, Sendable, Comparable {
    package var w0: UInt64
    package var w1: UInt64
    package var w2: UInt64
    package var w3: UInt64

    /// Thirty-two zero bytes: the hash of an empty subtree and the root of the empty map.
    package static let zero = StateHash(w0: 0, w1: 0, w2: 0, w3: 0)

    package init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Reads 32 bytes starting at `offset` of `raw`.
    @inline(__always)
    init(loading raw: UnsafeRawBufferPointer, at offset: Int = 0) {
        precondition(raw.count - offset >= 32, "a state hash needs 32 bytes")
        w0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        w1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        w2 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
        w3 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
    }

    package init(_ value: Bytes32) {
        self = value.bytes.withUnsafeBytes { StateHash(loading: $0) }
    }

    init(_ digest: SHA256Digest) {
        self = digest.bytes.withUnsafeBytes { StateHash(loading: $0) }
    }

    /// The 32 bytes, most significant first.
    package var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, initialized in
            store(into: UnsafeMutableRawBufferPointer(buffer), at: 0)
            initialized = 32
        }
    }

    package var bytes32: Bytes32 { Bytes32(bytes)! }

    package var isZero: Bool { (w0 | w1 | w2 | w3) == 0 }

    @inline(__always)
    func store(into raw: UnsafeMutableRawBufferPointer, at offset: Int) {
        raw.storeBytes(of: w0.bigEndian, toByteOffset: offset, as: UInt64.self)
        raw.storeBytes(of: w1.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        raw.storeBytes(of: w2.bigEndian, toByteOffset: offset + 16, as: UInt64.self)
        raw.storeBytes(of: w3.bigEndian, toByteOffset: offset + 24, as: UInt64.self)
    }

    @inline(__always)
    func word(_ index: Int) -> UInt64 {
        switch index {
        case 0: w0
        case 1: w1
        case 2: w2
        default: w3
        }
    }

    /// Path bit `index` (0 is the most significant bit of byte 0): false goes left, true right.
    @inline(__always)
    package func bit(_ index: Int) -> Bool {
        (word(index >> 6) >> UInt64(63 - (index & 63))) & 1 == 1
    }

    /// How many leading path bits `self` and `other` share (256 when they are equal).
    package func commonPrefixLength(with other: StateHash) -> Int {
        let x0 = w0 ^ other.w0
        if x0 != 0 { return x0.leadingZeroBitCount }
        let x1 = w1 ^ other.w1
        if x1 != 0 { return 64 + x1.leadingZeroBitCount }
        let x2 = w2 ^ other.w2
        if x2 != 0 { return 128 + x2.leadingZeroBitCount }
        let x3 = w3 ^ other.w3
        if x3 != 0 { return 192 + x3.leadingZeroBitCount }
        return 256
    }

    package static func < (lhs: StateHash, rhs: StateHash) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

// MARK: - The hashing rules of Protocol/STATE.md section 2

extension StateHash {
    /// Domain byte of a leaf node: a leaf can never be read as an internal node, nor the reverse.
    static let leafDomain: UInt8 = 0x00
    /// Domain byte of an internal node.
    static let internalDomain: UInt8 = 0x01

    /// `SHA-256(bytes)`: the path `k` of a state key, or the hash of a value.
    package static func of<C: Collection>(_ bytes: C) -> StateHash where C.Element == UInt8 {
        StateHash(SHA256.hash(bytes))
    }

    /// `SHA-256(0x00 || key_hash || value_hash)`.
    package static func leaf(keyHash: StateHash, valueHash: StateHash) -> StateHash {
        node(domain: leafDomain, keyHash, valueHash)
    }

    /// `SHA-256(0x01 || left || right)`, an empty child counting as 32 zero bytes.
    package static func branch(left: StateHash, right: StateHash) -> StateHash {
        node(domain: internalDomain, left, right)
    }

    @inline(__always)
    private static func node(domain: UInt8, _ first: StateHash, _ second: StateHash) -> StateHash {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 65) { buffer in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw[0] = domain
            first.store(into: raw, at: 1)
            second.store(into: raw, at: 33)
            return StateHash(SHA256.hash(UnsafeBufferPointer(buffer)))
        }
    }
}
