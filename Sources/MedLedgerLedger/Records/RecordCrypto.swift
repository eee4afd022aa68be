import MedLedgerCrypto
import MedLedgerWire

/// End-to-end encryption of record contents (Protocol/LEDGER.md section 7).
///
/// Each record is encrypted once under its own random AES-256-GCM data key; the key travels only
/// wrapped with HPKE (X25519, HKDF-SHA256, AES-256-GCM) to each reader: the patient and the
/// custodian when the record is added, a requester when an access entry grants it. Contents are
/// padded to a size bucket first, so the ciphertext's length reveals only the bucket.
public enum RecordCrypto {
    /// Associated data of a record's ciphertext: the record id under a label, so a ciphertext
    /// cannot be passed off as another record's.
    static func recordAAD(_ record: Bytes32) -> [UInt8] { Array("medledger/record/v1".utf8) + record.bytes }
    /// HPKE `info` of a wrapped data key.
    static let wrapInfo = Array("medledger/record-key/v1".utf8)
    /// Every data key encrypts exactly one plaintext, so a fixed nonce never repeats under a key.
    static let nonce = [UInt8](repeating: 0, count: 12)

    /// A freshly encrypted record: what the custodian stores and what the anchor commits to.
    public struct Sealed: Sendable {
        public var ciphertext: [UInt8]
        /// SHA-256 of ``ciphertext``: the anchor's `ciphertext_hash`.
        public var ciphertextHash: Bytes32
        /// The padded plaintext size: the anchor's `padded_size`.
        public var paddedSize: UInt64
        /// The data key; wrap it for readers with ``wrap(_:for:record:)`` and then let it go.
        public var dataKey: SecureBytes
    }

    /// Pads `plaintext` to its size bucket and encrypts it under a new data key.
    public static func encrypt(_ plaintext: [UInt8], record: Bytes32) throws -> Sealed {
        try encrypt(plaintext, record: record, dataKey: SecureBytes.random(count: 32))
    }

    /// Encrypts under a given data key: for reproducible tests only (a key must never be reused).
    package static func encrypt(_ plaintext: [UInt8], record: Bytes32, dataKey: SecureBytes) throws -> Sealed {
        guard plaintext.count <= Int(UInt32.max) - 4 else {
            throw LedgerError(.invalidValue, "a record is at most 4 GiB")
        }
        let paddedSize = RecordSizes.bucket(for: UInt64(plaintext.count + 4))
        var padded = [UInt8]()
        padded.reserveCapacity(Int(paddedSize))
        let length = UInt32(plaintext.count)
        padded += [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        padded += plaintext
        padded += [UInt8](repeating: 0, count: Int(paddedSize) - padded.count)
        defer { padded.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let ciphertext = try AES256GCM.seal(key: dataKey.unprotectedBytes, nonce: nonce, plaintext: padded, aad: recordAAD(record))
        return Sealed(
            ciphertext: ciphertext, ciphertextHash: Bytes32(SHA256.hash(ciphertext).bytes)!, paddedSize: paddedSize,
            dataKey: dataKey)
    }

    /// Decrypts a record's ciphertext with its data key, checking the padding.
    public static func decrypt(_ ciphertext: [UInt8], dataKey: SecureBytes, record: Bytes32) throws -> [UInt8] {
        let padded = try AES256GCM.open(
            key: dataKey.unprotectedBytes, nonce: nonce, ciphertextAndTag: ciphertext, aad: recordAAD(record))
        guard padded.count >= 4 else { throw LedgerError(.malformed, "a decrypted record is shorter than its length prefix") }
        let length = Int(padded[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length <= padded.count - 4, padded[(4 + length)...].allSatisfy({ $0 == 0 }) else {
            throw LedgerError(.malformed, "a decrypted record's padding is not well formed")
        }
        return Array(padded[4..<(4 + length)])
    }

    /// Wraps a data key for one reader's X25519 key.
    public static func wrap(_ dataKey: SecureBytes, for recipient: Bytes32, record: Bytes32) throws -> WrappedKey {
        try wrap(dataKey, for: recipient, record: record, ephemeralKey: X25519.PrivateKey())
    }

    /// Wraps with a given HPKE ephemeral key: for reproducible tests only.
    package static func wrap(
        _ dataKey: SecureBytes, for recipient: Bytes32, record: Bytes32, ephemeralKey: X25519.PrivateKey
    ) throws -> WrappedKey {
        let sender = try HPKE.Sender(
            suite: .medLedger, recipient: X25519.PublicKey(bytes: recipient.bytes), info: wrapInfo, ephemeralKey: ephemeralKey)
        let sealed = try sender.seal(aad: record.bytes, plaintext: dataKey.unprotectedBytes)
        return WrappedKey(encapsulatedKey: Bytes32(sender.encapsulatedKey)!, sealedKey: sealed)
    }

    /// Opens a wrapped data key with the reader's private key.
    public static func unwrap(_ wrapped: WrappedKey, with key: X25519.PrivateKey, record: Bytes32) throws -> SecureBytes {
        let plaintext = try HPKE.open(
            suite: .medLedger, recipient: key, encapsulatedKey: wrapped.encapsulatedKey.bytes, info: wrapInfo,
            aad: record.bytes, ciphertext: wrapped.sealedKey)
        return SecureBytes(plaintext)
    }
}
