import MedLedgerCrypto
import Testing

// Known answers: test cases 13-16 (256-bit key) of McGrew and Viega, "The Galois/Counter
// Mode of Operation (GCM)", submission to NIST, revised May 2005, Appendix B.
struct AES256GCMTests {
    struct KnownAnswer: CustomTestStringConvertible, Sendable {
        let name: String
        let key: String
        let nonce: String
        let plaintext: String
        let aad: String
        let ciphertext: String
        let tag: String
        var testDescription: String { name }
    }

    static let key15 = "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308"
    static let knownAnswers: [KnownAnswer] = [
        KnownAnswer(
            name: "GCM test case 13 (empty plaintext, no AAD)",
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            plaintext: "",
            aad: "",
            ciphertext: "",
            tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        KnownAnswer(
            name: "GCM test case 14 (one zero block)",
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            plaintext: String(repeating: "00", count: 16),
            aad: "",
            ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        KnownAnswer(
            name: "GCM test case 15 (64-byte plaintext, no AAD)",
            key: key15,
            nonce: "cafebabefacedbaddecaf888",
            plaintext: """
                d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255
                """,
            aad: "",
            ciphertext: """
                522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662898015ad
                """,
            tag: "b094dac5d93471bdec1a502270e3cc6c"),
        KnownAnswer(
            name: "GCM test case 16 (60-byte plaintext, 20-byte AAD)",
            key: key15,
            nonce: "cafebabefacedbaddecaf888",
            plaintext: """
                d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39
                """,
            aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            ciphertext: """
                522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662
                """,
            tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    @Test("seal produces the published ciphertext and tag", arguments: knownAnswers)
    func sealKnownAnswer(_ vector: KnownAnswer) throws {
        let sealed = try AES256GCM.seal(
            key: bytes(hex: vector.key), nonce: bytes(hex: vector.nonce),
            plaintext: bytes(hex: vector.plaintext), aad: bytes(hex: vector.aad))
        #expect(sealed == bytes(hex: vector.ciphertext) + bytes(hex: vector.tag))
    }

    @Test("open recovers the published plaintext", arguments: knownAnswers)
    func openKnownAnswer(_ vector: KnownAnswer) throws {
        let opened = try AES256GCM.open(
            key: bytes(hex: vector.key), nonce: bytes(hex: vector.nonce),
            ciphertextAndTag: bytes(hex: vector.ciphertext) + bytes(hex: vector.tag), aad: bytes(hex: vector.aad))
        #expect(opened == bytes(hex: vector.plaintext))
    }

    // Test case 16 is the one with both plaintext and AAD, so every part can be tampered with.
    static let vector16 = knownAnswers[3]
    static let sealed16 = bytes(hex: vector16.ciphertext) + bytes(hex: vector16.tag)

    static func openVector16(
        key: [UInt8] = bytes(hex: vector16.key),
        nonce: [UInt8] = bytes(hex: vector16.nonce),
        ciphertextAndTag: [UInt8] = sealed16,
        aad: [UInt8] = bytes(hex: vector16.aad)
    ) throws -> [UInt8] {
        try AES256GCM.open(key: key, nonce: nonce, ciphertextAndTag: ciphertextAndTag, aad: aad)
    }

    static func expectAuthenticationFailure(_ body: () throws -> [UInt8]) {
        let error = #expect(throws: CryptoError.self) { try body() }
        #expect(error?.code == .authenticationFailed)
    }

    @Test("flipping any one bit of the ciphertext or the tag is rejected")
    func tamperedCiphertextOrTag() {
        for index in Self.sealed16.indices {
            var tampered = Self.sealed16
            tampered[index] ^= 0x01 << UInt8(index % 8)
            Self.expectAuthenticationFailure { try Self.openVector16(ciphertextAndTag: tampered) }
        }
    }

    @Test("changed, truncated or missing associated data is rejected")
    func tamperedAAD() {
        var flipped = bytes(hex: Self.vector16.aad)
        flipped[0] ^= 0x80
        Self.expectAuthenticationFailure { try Self.openVector16(aad: flipped) }
        Self.expectAuthenticationFailure { try Self.openVector16(aad: Array(bytes(hex: Self.vector16.aad).dropLast())) }
        Self.expectAuthenticationFailure { try Self.openVector16(aad: []) }
    }

    @Test("a wrong key or nonce of the right length is rejected")
    func wrongKeyOrNonce() {
        Self.expectAuthenticationFailure { try Self.openVector16(key: [UInt8](repeating: 0, count: 32)) }
        Self.expectAuthenticationFailure { try Self.openVector16(nonce: [UInt8](repeating: 0, count: 12)) }
    }

    @Test("input shorter than a tag, or with the tag cut off, is rejected")
    func truncatedInput() {
        Self.expectAuthenticationFailure { try Self.openVector16(ciphertextAndTag: []) }
        Self.expectAuthenticationFailure { try Self.openVector16(ciphertextAndTag: Array(Self.sealed16.prefix(15))) }
        Self.expectAuthenticationFailure { try Self.openVector16(ciphertextAndTag: Array(Self.sealed16.dropLast())) }
    }

    @Test("keys that are not 32 bytes are rejected by seal and open", arguments: [0, 16, 24, 31, 33, 64])
    func wrongKeyLength(_ length: Int) {
        let key = [UInt8](repeating: 7, count: length)
        let sealError = #expect(throws: CryptoError.self) {
            try AES256GCM.seal(key: key, nonce: [UInt8](repeating: 0, count: 12), plaintext: [1, 2, 3], aad: [])
        }
        #expect(sealError?.code == .invalidKeyLength)
        let openError = #expect(throws: CryptoError.self) { try Self.openVector16(key: key) }
        #expect(openError?.code == .invalidKeyLength)
    }

    @Test("nonces that are not 12 bytes are rejected by seal and open", arguments: [0, 8, 11, 13, 16])
    func wrongNonceLength(_ length: Int) {
        let nonce = [UInt8](repeating: 7, count: length)
        let sealError = #expect(throws: CryptoError.self) {
            try AES256GCM.seal(key: [UInt8](repeating: 0, count: 32), nonce: nonce, plaintext: [1, 2, 3], aad: [])
        }
        #expect(sealError?.code == .invalidNonceLength)
        let openError = #expect(throws: CryptoError.self) { try Self.openVector16(nonce: nonce) }
        #expect(openError?.code == .invalidNonceLength)
    }

    @Test("random keys and nonces round-trip messages of many sizes")
    func roundTrip() throws {
        for length in [0, 1, 15, 16, 17, 255, 4096, 65_537] {
            let key = secureRandomBytes(AES256GCM.keyByteCount)
            let nonce = secureRandomBytes(AES256GCM.nonceByteCount)
            let plaintext = secureRandomBytes(length)
            let aad = secureRandomBytes(length % 40)
            let sealed = try AES256GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
            #expect(sealed.count == length + AES256GCM.tagByteCount)
            #expect(try AES256GCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: aad) == plaintext)
        }
    }

    @Test("an error's description names its code and says what was wrong")
    func errorDescription() {
        let error = #expect(throws: CryptoError.self) { try Self.openVector16(key: [1, 2, 3]) }
        let text = error?.description ?? ""
        #expect(text.contains("invalidKeyLength"))
        #expect(text.contains("32 bytes"))
        #expect(text.contains("AESGCM.swift"))
    }
}
