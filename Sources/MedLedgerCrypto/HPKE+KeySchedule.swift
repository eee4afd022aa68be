// RFC 9180's derivations, written as the RFC writes them: LabeledExtract and LabeledExpand
// (section 4), DHKEM's ExtractAndExpand, Encap and Decap (section 4.1), and the base-mode key
// schedule (section 5.1). Nothing here is public; Sender, Recipient and the single-shot functions
// are the way in. The `package` entry points exist for the known-answer tests, which must fix the
// ephemeral key and look at the intermediate values.

extension HPKE {
    /// The version label every HPKE derivation starts with.
    static let versionLabel: [UInt8] = Array("HPKE-v1".utf8)

    /// `mode_base`.
    static let modeBase: UInt8 = 0x00

    /// `LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm)`;
    /// a nil `salt` is the empty string.
    static func labeledExtract(suiteID: [UInt8], salt: SecureBytes?, label: String, ikm: SecureBytes) -> SecureBytes {
        ikm.withUnsafeBytes { labeledExtract(suiteID: suiteID, salt: salt, label: label, ikmBytes: $0) }
    }

    /// `LabeledExtract` of input that is not secret (`info`, `psk_id`).
    static func labeledExtract(suiteID: [UInt8], salt: SecureBytes?, label: String, ikm: [UInt8]) -> SecureBytes {
        ikm.withUnsafeBytes { labeledExtract(suiteID: suiteID, salt: salt, label: label, ikmBytes: $0) }
    }

    private static func labeledExtract(
        suiteID: [UInt8], salt: SecureBytes?, label: String, ikmBytes: UnsafeRawBufferPointer
    ) -> SecureBytes {
        let label = Array(label.utf8)
        var labeledIKM: [UInt8] = []
        // Exactly the final size, so that appending never reallocates and leaves an unwiped copy.
        labeledIKM.reserveCapacity(versionLabel.count + suiteID.count + label.count + ikmBytes.count)
        labeledIKM += versionLabel
        labeledIKM += suiteID
        labeledIKM += label
        labeledIKM += ikmBytes
        defer { wipe(&labeledIKM) }
        guard let salt else { return HKDF.extract(salt: [UInt8](), inputKeyMaterial: labeledIKM) }
        return withTemporaryCopy(of: salt) { HKDF.extract(salt: $0, inputKeyMaterial: labeledIKM) }
    }

    /// `LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)`.
    static func labeledExpand(
        suiteID: [UInt8], prk: SecureBytes, label: String, info: [UInt8], length: Int
    ) throws -> SecureBytes {
        guard length >= 0, length <= Int(UInt16.max) else {
            throw CryptoError(
                code: .invalidLength, message: "an HPKE LabeledExpand length must fit in two bytes; \(length) does not")
        }
        let labeledInfo = i2osp(UInt64(length), count: 2) + versionLabel + suiteID + Array(label.utf8) + info
        return try HKDF.expand(pseudorandomKey: prk, info: labeledInfo, length: length)
    }

    // MARK: DHKEM(X25519, HKDF-SHA256)

    /// `ExtractAndExpand(dh, kem_context)`: the KEM's shared secret.
    static func extractAndExpand(kem: KEM, dh: SecureBytes, kemContext: [UInt8]) throws -> SecureBytes {
        let prk = labeledExtract(suiteID: kem.suiteID, salt: nil, label: "eae_prk", ikm: dh)
        return try labeledExpand(
            suiteID: kem.suiteID, prk: prk, label: "shared_secret", info: kemContext, length: kem.sharedSecretByteCount)
    }

    /// `Encap(pkR)` with the ephemeral key pair given rather than generated: the shared secret and
    /// `enc`. Only the known-answer tests and ``Sender`` pass an ephemeral key; it must be fresh
    /// for every encapsulation.
    package static func encapsulate(
        kem: KEM, recipient: X25519.PublicKey, ephemeralKey: X25519.PrivateKey
    ) throws -> (sharedSecret: SecureBytes, encapsulatedKey: [UInt8]) {
        let dh: SecureBytes
        do {
            dh = try ephemeralKey.sharedSecret(with: recipient)
        } catch let error as CryptoError where error.code == .invalidPeerKey {
            throw CryptoError(
                code: .invalidPeerKey,
                message: "the recipient's X25519 public key \(lowercaseHex(recipient.bytes)) is a low-order point "
                    + "(the Diffie-Hellman result is all zeros), so nothing can be sealed to it; "
                    + "check where this key came from",
                openSSLReason: error.openSSLReason)
        }
        let enc = ephemeralKey.publicKey.bytes
        let sharedSecret = try extractAndExpand(kem: kem, dh: dh, kemContext: enc + recipient.bytes)
        return (sharedSecret, enc)
    }

    /// `Decap(enc, skR)`: the shared secret the sender derived, if `enc` was made for this key.
    package static func decapsulate(
        kem: KEM, encapsulatedKey: [UInt8], recipient: X25519.PrivateKey
    ) throws -> SecureBytes {
        guard encapsulatedKey.count == kem.encapsulatedKeyByteCount else {
            throw CryptoError(
                code: .invalidKeyLength,
                message: "an HPKE encapsulated key for \(kem) is \(kem.encapsulatedKeyByteCount) bytes; "
                    + "this one is \(encapsulatedKey.count): it was truncated, or belongs to another KEM")
        }
        let ephemeralPublicKey = try X25519.PublicKey(bytes: encapsulatedKey)
        let dh: SecureBytes
        do {
            dh = try recipient.sharedSecret(with: ephemeralPublicKey)
        } catch let error as CryptoError where error.code == .invalidPeerKey {
            throw CryptoError(
                code: .invalidPeerKey,
                message: "the HPKE encapsulated key \(lowercaseHex(encapsulatedKey)) is a low-order X25519 point "
                    + "(the Diffie-Hellman result is all zeros): refused, as RFC 9180 section 7.1.4 requires; "
                    + "the message is corrupt or was crafted",
                openSSLReason: error.openSSLReason)
        }
        return try extractAndExpand(
            kem: kem, dh: dh, kemContext: encapsulatedKey + recipient.publicKey.bytes)
    }

    // MARK: Key schedule

    /// Every value RFC 9180's `KeySchedule` computes in base mode, as its test vectors list them.
    package struct KeySchedule: Sendable {
        /// `key_schedule_context = mode || psk_id_hash || info_hash`.
        package let keyScheduleContext: [UInt8]
        /// `secret = LabeledExtract(shared_secret, "secret", psk)`.
        package let secret: SecureBytes
        /// The AEAD key, `Nk` bytes.
        package let key: SecureBytes
        /// The base nonce, `Nn` bytes.
        package let baseNonce: SecureBytes
        /// The exporter secret, `Nh` bytes.
        package let exporterSecret: SecureBytes
    }

    /// `KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = "")`.
    package static func keySchedule(suite: Suite, sharedSecret: SecureBytes, info: [UInt8]) throws -> KeySchedule {
        let suiteID = suite.suiteID
        let pskIDHash = labeledExtract(suiteID: suiteID, salt: nil, label: "psk_id_hash", ikm: [UInt8]())
        let infoHash = labeledExtract(suiteID: suiteID, salt: nil, label: "info_hash", ikm: info)
        let context = [modeBase] + pskIDHash.unprotectedBytes + infoHash.unprotectedBytes
        let secret = labeledExtract(suiteID: suiteID, salt: sharedSecret, label: "secret", ikm: SecureBytes([UInt8]()))
        return KeySchedule(
            keyScheduleContext: context,
            secret: secret,
            key: try labeledExpand(
                suiteID: suiteID, prk: secret, label: "key", info: context, length: suite.aead.keyByteCount),
            baseNonce: try labeledExpand(
                suiteID: suiteID, prk: secret, label: "base_nonce", info: context, length: suite.aead.nonceByteCount),
            exporterSecret: try labeledExpand(
                suiteID: suiteID, prk: secret, label: "exp", info: context, length: suite.kdf.hashByteCount))
    }
}
