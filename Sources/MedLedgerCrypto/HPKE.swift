/// Hybrid Public Key Encryption (RFC 9180), base mode: how MedLedger wraps each record's data key
/// for the patient, the custodian facility and every reader the patient authorised.
///
/// The sender needs only the recipient's ``X25519/PublicKey``. Each seal makes a fresh ephemeral
/// key pair; its public half, the *encapsulated key*, travels with the ciphertext and lets the
/// recipient's ``X25519/PrivateKey`` derive the same AEAD key.
///
/// ```swift
/// let info = Array("MedLedger record key v1".utf8)
/// let (enc, wrapped) = try HPKE.seal(
///     suite: .medLedger, recipient: patientKey.publicKey, info: info, aad: recordID, plaintext: dataKey)
/// let opened = try HPKE.open(
///     suite: .medLedger, recipient: patientKey, encapsulatedKey: enc, info: info, aad: recordID, ciphertext: wrapped)
/// ```
///
/// To send several messages under one encapsulation, or to derive further secrets from it, use
/// ``Sender`` and ``Recipient``.
///
/// Only base mode (`mode_base`: no pre-shared key, no sender authentication) is implemented, with
/// the KEM DHKEM(X25519, HKDF-SHA256), the KDF HKDF-SHA256 and the AEADs AES-128-GCM and
/// AES-256-GCM. Anyone can seal to a public key: base mode proves nothing about who sealed, so
/// sign what must be attributable.
public enum HPKE {
    /// A key encapsulation mechanism (RFC 9180 section 7.1), by its registered `kem_id`.
    public enum KEM: UInt16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// DHKEM(X25519, HKDF-SHA256), `kem_id` 0x0020.
        case dhkemX25519HKDFSHA256 = 0x0020

        /// The RFC's name for the KEM.
        public var description: String { "DHKEM(X25519, HKDF-SHA256)" }

        /// `Nenc`: the length of an encapsulated key in bytes.
        public var encapsulatedKeyByteCount: Int { 32 }

        /// `Nsecret`: the length of the KEM's shared secret in bytes.
        var sharedSecretByteCount: Int { 32 }

        /// `Nsk`: the length of a private key in bytes.
        var privateKeyByteCount: Int { 32 }

        /// `suite_id` for the KEM's own derivations: `"KEM" || I2OSP(kem_id, 2)`.
        package var suiteID: [UInt8] { Array("KEM".utf8) + HPKE.i2osp(UInt64(rawValue), count: 2) }
    }

    /// A key derivation function (RFC 9180 section 7.2), by its registered `kdf_id`.
    public enum KDF: UInt16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// HKDF-SHA256, `kdf_id` 0x0001.
        case hkdfSHA256 = 0x0001

        /// The RFC's name for the KDF.
        public var description: String { "HKDF-SHA256" }

        /// `Nh`: the output length of the KDF's extract step in bytes.
        var hashByteCount: Int { 32 }
    }

    /// An authenticated encryption algorithm (RFC 9180 section 7.3), by its registered `aead_id`.
    public enum AEAD: UInt16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// AES-128-GCM, `aead_id` 0x0001: supported for RFC 9180's test vectors and for peers
        /// that need it; MedLedger itself uses ``aes256GCM``.
        case aes128GCM = 0x0001
        /// AES-256-GCM, `aead_id` 0x0002: MedLedger's choice.
        case aes256GCM = 0x0002

        /// The RFC's name for the AEAD.
        public var description: String {
            switch self {
            case .aes128GCM: "AES-128-GCM"
            case .aes256GCM: "AES-256-GCM"
            }
        }

        /// `Nk`: the key length in bytes.
        public var keyByteCount: Int {
            switch self {
            case .aes128GCM: AES128GCM.keyByteCount
            case .aes256GCM: AES256GCM.keyByteCount
            }
        }

        /// `Nn`: the nonce length in bytes.
        public var nonceByteCount: Int { 12 }

        /// `Nt`: the authentication tag length in bytes; every ciphertext is this much longer than
        /// its plaintext.
        public var tagByteCount: Int { 16 }

        func seal(key: SecureBytes, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
            try HPKE.withTemporaryCopy(of: key) { key in
                switch self {
                case .aes128GCM: try AES128GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
                case .aes256GCM: try AES256GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
                }
            }
        }

        func open(key: SecureBytes, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
            try HPKE.withTemporaryCopy(of: key) { key in
                switch self {
                case .aes128GCM: try AES128GCM.open(key: key, nonce: nonce, ciphertextAndTag: ciphertext, aad: aad)
                case .aes256GCM: try AES256GCM.open(key: key, nonce: nonce, ciphertextAndTag: ciphertext, aad: aad)
                }
            }
        }
    }

    /// A ciphersuite: one KEM, one KDF and one AEAD. Both sides must use the same suite.
    public struct Suite: Hashable, Sendable, CustomStringConvertible {
        /// The key encapsulation mechanism.
        public let kem: KEM
        /// The key derivation function for the key schedule.
        public let kdf: KDF
        /// The authenticated encryption algorithm for the messages.
        public let aead: AEAD

        /// The suite made of these three algorithms.
        public init(kem: KEM, kdf: KDF, aead: AEAD) {
            self.kem = kem
            self.kdf = kdf
            self.aead = aead
        }

        /// MedLedger's suite for wrapping record keys: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
        /// AES-256-GCM.
        public static let medLedger = Suite(kem: .dhkemX25519HKDFSHA256, kdf: .hkdfSHA256, aead: .aes256GCM)

        /// `suite_id` for the key schedule: `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`.
        package var suiteID: [UInt8] {
            Array("HPKE".utf8) + HPKE.i2osp(UInt64(kem.rawValue), count: 2)
                + HPKE.i2osp(UInt64(kdf.rawValue), count: 2) + HPKE.i2osp(UInt64(aead.rawValue), count: 2)
        }

        /// The three names, as RFC 9180 writes them.
        public var description: String { "HPKE(\(kem), \(kdf), \(aead))" }
    }

    /// Encrypts one message to `recipient` (RFC 9180 section 6.1, `SealBase`).
    ///
    /// - Parameters:
    ///   - suite: the ciphersuite; the recipient must open with the same one.
    ///   - recipient: the recipient's public key.
    ///   - info: application context bound into the key schedule (for example a protocol label
    ///     and version); the recipient must pass the same bytes. May be empty.
    ///   - aad: associated data the recipient must pass unchanged; authenticated, not encrypted.
    ///     May be empty.
    ///   - plaintext: the message; may be empty.
    /// - Returns: the encapsulated key (32 bytes) and the ciphertext (the plaintext's length plus
    ///   a 16-byte tag). Send both.
    /// - Throws: ``CryptoError`` with code `.invalidPeerKey` if `recipient` is a low-order X25519
    ///   point (nothing can be sealed to it), or `.openSSL` if OpenSSL fails.
    public static func seal(
        suite: Suite, recipient: X25519.PublicKey, info: [UInt8], aad: [UInt8], plaintext: [UInt8]
    ) throws -> (encapsulatedKey: [UInt8], ciphertext: [UInt8]) {
        let sender = try Sender(suite: suite, recipient: recipient, info: info)
        return (sender.encapsulatedKey, try sender.seal(aad: aad, plaintext: plaintext))
    }

    /// Decrypts a message that ``seal(suite:recipient:info:aad:plaintext:)`` made
    /// (RFC 9180 section 6.1, `OpenBase`).
    ///
    /// - Parameters:
    ///   - suite: the ciphersuite it was sealed with.
    ///   - recipient: the private key whose public key it was sealed to.
    ///   - encapsulatedKey: the 32-byte encapsulated key that came with the ciphertext.
    ///   - info: the same application context the sender used.
    ///   - aad: the same associated data the sender used.
    ///   - ciphertext: the sealed message, tag included.
    /// - Returns: the plaintext, only once it has authenticated.
    /// - Throws: ``CryptoError`` with code `.authenticationFailed` if the ciphertext, the
    ///   encapsulated key, `info` or `aad` was altered or the message was sealed to another key;
    ///   `.invalidPeerKey` if the encapsulated key is a low-order X25519 point; `.invalidKeyLength`
    ///   if it is not 32 bytes; `.openSSL` if OpenSSL fails.
    public static func open(
        suite: Suite, recipient: X25519.PrivateKey, encapsulatedKey: [UInt8], info: [UInt8], aad: [UInt8],
        ciphertext: [UInt8]
    ) throws -> [UInt8] {
        let context = try Recipient(suite: suite, privateKey: recipient, encapsulatedKey: encapsulatedKey, info: info)
        return try context.open(aad: aad, ciphertext: ciphertext)
    }

    /// The key pair RFC 9180's `DeriveKeyPair` makes from `inputKeyMaterial` (section 7.1.3).
    ///
    /// The same input always gives the same key, so this suits keys that must be re-creatable from
    /// a seed. The input must be secret and carry at least 32 bytes of entropy; a random
    /// ``X25519/PrivateKey/init()`` is the right choice otherwise.
    ///
    /// - Parameters:
    ///   - kem: the KEM whose key pair to derive.
    ///   - inputKeyMaterial: at least 32 bytes of secret, uniformly random input.
    /// - Throws: ``CryptoError`` with code `.invalidLength` if `inputKeyMaterial` is shorter than
    ///   32 bytes.
    public static func deriveKeyPair(kem: KEM, inputKeyMaterial: SecureBytes) throws -> X25519.PrivateKey {
        guard inputKeyMaterial.count >= kem.privateKeyByteCount else {
            throw CryptoError(
                code: .invalidLength,
                message: "HPKE DeriveKeyPair for \(kem) needs at least \(kem.privateKeyByteCount) bytes of input "
                    + "key material; this is \(inputKeyMaterial.count). Use a longer random seed.")
        }
        let prk = labeledExtract(suiteID: kem.suiteID, salt: nil, label: "dkp_prk", ikm: inputKeyMaterial)
        let secretKey = try labeledExpand(
            suiteID: kem.suiteID, prk: prk, label: "sk", info: [], length: kem.privateKeyByteCount)
        return try X25519.PrivateKey(rawKey: secretKey)
    }
}

// MARK: - Shared helpers

extension HPKE {
    /// `I2OSP(value, count)`: `value` as `count` big-endian bytes (RFC 8017 section 4.1).
    static func i2osp(_ value: UInt64, count: Int) -> [UInt8] {
        precondition(count >= 1 && count <= 8 && (count == 8 || value >> UInt64(8 * count) == 0))
        return (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * (count - 1 - $0))) }
    }

    /// Runs `body` with an ordinary array copy of `secret`, for APIs that take arrays, and wipes
    /// the copy afterwards.
    static func withTemporaryCopy<R>(of secret: SecureBytes, _ body: ([UInt8]) throws -> R) rethrows -> R {
        var copy = secret.unprotectedBytes
        defer { wipe(&copy) }
        return try body(copy)
    }

    /// Overwrites `bytes` with zeros in a way the optimiser keeps.
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { OpenSSL.cleanse($0) }
    }
}
