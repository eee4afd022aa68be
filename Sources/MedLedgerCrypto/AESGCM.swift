/// AES in Galois/Counter Mode (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag, over OpenSSL.
///
/// A key must never seal two messages under the same nonce: doing so reveals the XOR of the
/// plaintexts and lets anyone forge tags. Use a fresh random key per record, or a counter nonce
/// per channel direction.
///
/// MedLedger uses ``AES256GCM``; ``AES128GCM`` exists for the HPKE known-answer tests of RFC 9180.
public protocol AESGCMVariant {
    /// The key length in bytes.
    static var keyByteCount: Int { get }
    /// The algorithm's name, for messages.
    static var name: String { get }
}

extension AESGCMVariant {
    /// The nonce length in bytes.
    public static var nonceByteCount: Int { 12 }

    /// The authentication tag length in bytes, appended to every ciphertext.
    public static var tagByteCount: Int { 16 }

    /// Encrypts and authenticates `plaintext`, and authenticates `aad` without encrypting it.
    ///
    /// - Parameters:
    ///   - key: ``keyByteCount`` bytes.
    ///   - nonce: 12 bytes, never reused with the same key.
    ///   - plaintext: the bytes to encrypt; may be empty.
    ///   - aad: associated data that must arrive unchanged but travels in the clear; may be empty.
    /// - Returns: the ciphertext (as long as `plaintext`) followed by the 16-byte tag.
    /// - Throws: ``CryptoError`` with code `.invalidKeyLength`, `.invalidNonceLength` or `.openSSL`.
    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try validate(key: key, nonce: nonce)
        return try OpenSSL.aesGCMSeal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
    }

    /// Verifies and decrypts what ``seal(key:nonce:plaintext:aad:)`` produced.
    ///
    /// - Returns: the plaintext, only once the tag has verified.
    /// - Throws: ``CryptoError`` with code `.authenticationFailed` if anything was altered or does not
    ///   match (including input shorter than a tag), `.invalidKeyLength`, `.invalidNonceLength`, or `.openSSL`.
    public static func open(key: [UInt8], nonce: [UInt8], ciphertextAndTag: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try validate(key: key, nonce: nonce)
        guard ciphertextAndTag.count >= tagByteCount else {
            throw CryptoError(
                code: .authenticationFailed,
                message: "sealed input is \(ciphertextAndTag.count) bytes, shorter than the \(tagByteCount)-byte tag")
        }
        guard let plaintext = try OpenSSL.aesGCMOpen(key: key, nonce: nonce, ciphertextAndTag: ciphertextAndTag, aad: aad)
        else {
            throw CryptoError(
                code: .authenticationFailed,
                message: "the tag does not match: the ciphertext, tag or associated data was altered, "
                    + "or the key or nonce is not the one it was sealed with")
        }
        return plaintext
    }

    private static func validate(key: [UInt8], nonce: [UInt8], file: String = #fileID, line: Int = #line) throws {
        guard key.count == keyByteCount else {
            throw CryptoError(
                code: .invalidKeyLength, message: "an \(name) key is \(keyByteCount) bytes; this one is \(key.count)",
                file: file, line: line)
        }
        guard nonce.count == nonceByteCount else {
            throw CryptoError(
                code: .invalidNonceLength,
                message: "an \(name) nonce is \(nonceByteCount) bytes; this one is \(nonce.count)", file: file, line: line)
        }
    }
}

/// AES-256-GCM: record encryption, sealed frames, HPKE in MedLedger's suite.
public enum AES256GCM: AESGCMVariant {
    public static let keyByteCount = 32
    public static let name = "AES-256-GCM"
}

/// AES-128-GCM: only for RFC 9180's test suite.
public enum AES128GCM: AESGCMVariant {
    public static let keyByteCount = 16
    public static let name = "AES-128-GCM"
}
