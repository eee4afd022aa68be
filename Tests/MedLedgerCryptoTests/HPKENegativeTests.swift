import MedLedgerCrypto
import Testing

/// What must not open: altered encapsulated keys, ciphertexts, aad and info, the wrong recipient
/// or suite, and low-order or malformed encapsulated keys.
@Suite("HPKE rejections")
struct HPKENegativeTests {
    /// One sealed message and everything needed to open it.
    struct Sealed {
        let suite: HPKE.Suite
        let recipient: X25519.PrivateKey
        let enc: [UInt8]
        let info: [UInt8]
        let aad: [UInt8]
        let ciphertext: [UInt8]
        let plaintext: [UInt8]

        init(suite: HPKE.Suite = .medLedger) throws {
            self.suite = suite
            // Fixed keys, so every run alters the same bytes.
            recipient = try HPKETestVectors.derivedKey(ikmHex: String(repeating: "11", count: 32))
            info = Array("MedLedger record key v1".utf8)
            aad = Array("record 0001".utf8)
            plaintext = Array(0..<32)
            let sender = try HPKE.Sender(
                suite: suite, recipient: recipient.publicKey, info: info,
                ephemeralKey: HPKETestVectors.derivedKey(ikmHex: String(repeating: "22", count: 32)))
            enc = sender.encapsulatedKey
            ciphertext = try sender.seal(aad: aad, plaintext: plaintext)
        }

        func open(
            suite: HPKE.Suite? = nil, recipient: X25519.PrivateKey? = nil, enc: [UInt8]? = nil, info: [UInt8]? = nil,
            aad: [UInt8]? = nil, ciphertext: [UInt8]? = nil
        ) throws -> [UInt8] {
            try HPKE.open(
                suite: suite ?? self.suite, recipient: recipient ?? self.recipient, encapsulatedKey: enc ?? self.enc,
                info: info ?? self.info, aad: aad ?? self.aad, ciphertext: ciphertext ?? self.ciphertext)
        }
    }

    /// The code `body` fails with, or nil if it succeeded.
    func failure(_ body: () throws -> [UInt8]) -> CryptoError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as CryptoError {
            return error.code
        } catch {
            Issue.record("not a CryptoError: \(error)")
            return nil
        }
    }

    static func flipping(_ bytes: [UInt8], byte: Int, bit: Int) -> [UInt8] {
        var copy = bytes
        copy[byte] ^= UInt8(1 << bit)
        return copy
    }

    @Test("the unaltered message opens")
    func baseline() throws {
        let sealed = try Sealed()
        #expect(try sealed.open() == sealed.plaintext)
    }

    @Test("any single bit flipped in the encapsulated key fails authentication", arguments: 0..<32)
    func tamperedEnc(byte: Int) throws {
        let sealed = try Sealed()
        for bit in [0, 3, 7] {
            let enc = Self.flipping(sealed.enc, byte: byte, bit: bit)
            #expect(failure { try sealed.open(enc: enc) } == .authenticationFailed, "byte \(byte) bit \(bit)")
        }
    }

    @Test("flipping the top bit of enc, which X25519 ignores, still fails: enc itself is in kem_context")
    func tamperedEncIgnoredBit() throws {
        let sealed = try Sealed()
        let enc = Self.flipping(sealed.enc, byte: 31, bit: 7)
        // The Diffie-Hellman result is unchanged ...
        let original = try sealed.recipient.sharedSecret(with: X25519.PublicKey(bytes: sealed.enc))
        let altered = try sealed.recipient.sharedSecret(with: X25519.PublicKey(bytes: enc))
        #expect(original.constantTimeEquals(altered))
        // ... yet the message does not open.
        #expect(failure { try sealed.open(enc: enc) } == .authenticationFailed)
    }

    @Test("any byte of the ciphertext or tag altered fails authentication")
    func tamperedCiphertext() throws {
        let sealed = try Sealed()
        for index in sealed.ciphertext.indices {
            let ciphertext = Self.flipping(sealed.ciphertext, byte: index, bit: index % 8)
            #expect(failure { try sealed.open(ciphertext: ciphertext) } == .authenticationFailed, "byte \(index)")
        }
    }

    @Test("a truncated, extended or tag-only ciphertext fails authentication")
    func resizedCiphertext() throws {
        let sealed = try Sealed()
        for ciphertext in [
            Array(sealed.ciphertext.dropLast()), sealed.ciphertext + [0], Array(sealed.ciphertext.suffix(16)),
            Array(sealed.ciphertext.prefix(15)), [],
        ] {
            #expect(
                failure { try sealed.open(ciphertext: ciphertext) } == .authenticationFailed,
                "\(ciphertext.count) bytes")
        }
    }

    @Test("altered aad fails authentication")
    func tamperedAAD() throws {
        let sealed = try Sealed()
        for aad in [Self.flipping(sealed.aad, byte: 0, bit: 0), sealed.aad + [0], Array(sealed.aad.dropLast()), []] {
            #expect(failure { try sealed.open(aad: aad) } == .authenticationFailed)
        }
    }

    @Test("altered info fails authentication")
    func tamperedInfo() throws {
        let sealed = try Sealed()
        for info in [Self.flipping(sealed.info, byte: 5, bit: 2), sealed.info + [0], Array(sealed.info.dropLast()), []]
        {
            #expect(failure { try sealed.open(info: info) } == .authenticationFailed)
        }
    }

    @Test("another recipient's key fails authentication")
    func wrongRecipient() throws {
        let sealed = try Sealed()
        #expect(failure { try sealed.open(recipient: X25519.PrivateKey()) } == .authenticationFailed)
    }

    @Test("opening under another suite fails authentication")
    func wrongSuite() throws {
        let sealed = try Sealed()
        let other = HPKE.Suite(kem: .dhkemX25519HKDFSHA256, kdf: .hkdfSHA256, aead: .aes128GCM)
        #expect(failure { try sealed.open(suite: other) } == .authenticationFailed)
        let sealed128 = try Sealed(suite: other)
        #expect(failure { try sealed128.open(suite: .medLedger) } == .authenticationFailed)
    }

    /// Low-order points of Curve25519 and their non-canonical encodings (u and u + p, with and
    /// without the top bit X25519 ignores): every one gives the all-zero shared secret.
    static let lowOrderPoints: [String] = [
        "0000000000000000000000000000000000000000000000000000000000000000",  // 0
        "0100000000000000000000000000000000000000000000000000000000000000",  // 1
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  // order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p - 1 (order 2)
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p, which is 0
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p + 1, which is 1
        "0000000000000000000000000000000000000000000000000000000000000080",  // 0, top bit set
        "0100000000000000000000000000000000000000000000000000000000000080",  // 1, top bit set
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",  // order 8, top bit set
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",  // order 8, top bit set
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // p - 1, top bit set
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // p, top bit set
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // p + 1, top bit set
    ]

    @Test("a low-order encapsulated key is refused with invalidPeerKey", arguments: lowOrderPoints)
    func lowOrderEnc(point: String) throws {
        let sealed = try Sealed()
        #expect(failure { try sealed.open(enc: bytes(hex: point)) } == .invalidPeerKey)
        let error = try #require(throws: CryptoError.self) {
            try HPKE.Recipient(
                suite: .medLedger, privateKey: sealed.recipient, encapsulatedKey: bytes(hex: point), info: [])
        }
        #expect(error.code == .invalidPeerKey)
        #expect(error.message.contains("low-order"))
    }

    @Test("sealing to a low-order recipient key is refused with invalidPeerKey", arguments: lowOrderPoints)
    func lowOrderRecipient(point: String) throws {
        let recipient = try X25519.PublicKey(bytes: bytes(hex: point))
        let error = try #require(throws: CryptoError.self) {
            try HPKE.seal(suite: .medLedger, recipient: recipient, info: [], aad: [], plaintext: [1])
        }
        #expect(error.code == .invalidPeerKey)
        #expect(error.message.contains("recipient"))
        #expect(throws: CryptoError.self) { try HPKE.Sender(suite: .medLedger, recipient: recipient, info: []) }
    }

    @Test("an encapsulated key of the wrong length is refused with invalidKeyLength", arguments: [0, 1, 31, 33, 64])
    func wrongLengthEnc(length: Int) throws {
        let sealed = try Sealed()
        let enc = Array((sealed.enc + sealed.enc + sealed.enc).prefix(length))
        #expect(failure { try sealed.open(enc: enc) } == .invalidKeyLength)
    }
}
