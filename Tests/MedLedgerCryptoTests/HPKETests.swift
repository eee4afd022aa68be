import MedLedgerCrypto
import Testing

/// The behaviour of the HPKE API beyond the known answers: round trips, contexts and their
/// sequence numbers, the message limit, exports and the suite identifiers.
@Suite("HPKE")
struct HPKETests {
    static let suites: [HPKE.Suite] = [
        .medLedger, HPKE.Suite(kem: .dhkemX25519HKDFSHA256, kdf: .hkdfSHA256, aead: .aes128GCM),
    ]

    @Test("MedLedger's suite is X25519 / HKDF-SHA256 / AES-256-GCM with the registered ids")
    func medLedgerSuite() {
        let suite = HPKE.Suite.medLedger
        #expect(suite.kem.rawValue == 0x0020 && suite.kdf.rawValue == 0x0001 && suite.aead.rawValue == 0x0002)
        #expect(suite.suiteID == Array("HPKE".utf8) + [0x00, 0x20, 0x00, 0x01, 0x00, 0x02])
        #expect(suite.kem.suiteID == Array("KEM".utf8) + [0x00, 0x20])
        #expect(HPKE.AEAD(rawValue: 0x0001) == .aes128GCM)
        #expect(HPKE.AEAD(rawValue: 0x0003) == nil, "ChaCha20-Poly1305 is not implemented")
        #expect(suite.description == "HPKE(DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)")
        #expect(suite.aead.keyByteCount == 32 && HPKE.AEAD.aes128GCM.keyByteCount == 16)
    }

    @Test(
        "single-shot seal then open, for several plaintext sizes", arguments: suites,
        [0, 1, 15, 16, 17, 32, 1000, 70_000])
    func singleShotRoundTrip(suite: HPKE.Suite, size: Int) throws {
        let recipient = X25519.PrivateKey()
        let plaintext = secureRandomBytes(size)
        let info = Array("MedLedger record key v1".utf8)
        let aad = Array("record 42".utf8)
        let (enc, ciphertext) = try HPKE.seal(
            suite: suite, recipient: recipient.publicKey, info: info, aad: aad, plaintext: plaintext)
        #expect(enc.count == 32)
        #expect(ciphertext.count == size + suite.aead.tagByteCount)
        let opened = try HPKE.open(
            suite: suite, recipient: recipient, encapsulatedKey: enc, info: info, aad: aad, ciphertext: ciphertext)
        #expect(opened == plaintext)
    }

    @Test("each seal uses a fresh ephemeral key, so sealing the same message twice differs")
    func freshEphemeral() throws {
        let recipient = X25519.PrivateKey()
        let first = try HPKE.seal(
            suite: .medLedger, recipient: recipient.publicKey, info: [], aad: [], plaintext: [1, 2, 3])
        let second = try HPKE.seal(
            suite: .medLedger, recipient: recipient.publicKey, info: [], aad: [], plaintext: [1, 2, 3])
        #expect(first.encapsulatedKey != second.encapsulatedKey)
        #expect(first.ciphertext != second.ciphertext)
    }

    @Test("a context seals many messages; the recipient opens them in order", arguments: suites)
    func contextRoundTrip(suite: HPKE.Suite) throws {
        let recipientKey = X25519.PrivateKey()
        let sender = try HPKE.Sender(suite: suite, recipient: recipientKey.publicKey, info: [7])
        let messages = (0..<20).map { secureRandomBytes($0 * 3) }
        let ciphertexts = try messages.enumerated().map { index, message in
            try sender.seal(aad: [UInt8(index)], plaintext: message)
        }
        #expect(sender.sequenceNumber == 20)
        let recipient = try HPKE.Recipient(
            suite: suite, privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [7])
        #expect(recipient.encapsulatedKey == sender.encapsulatedKey)
        for (index, ciphertext) in ciphertexts.enumerated() {
            #expect(try recipient.open(aad: [UInt8(index)], ciphertext: ciphertext) == messages[index])
        }
        #expect(recipient.sequenceNumber == 20)
    }

    @Test("a message out of order fails and does not move the recipient's sequence number")
    func outOfOrder() throws {
        let recipientKey = X25519.PrivateKey()
        let sender = try HPKE.Sender(suite: .medLedger, recipient: recipientKey.publicKey, info: [])
        let first = try sender.seal(aad: [], plaintext: [1])
        let second = try sender.seal(aad: [], plaintext: [2])
        let recipient = try HPKE.Recipient(
            suite: .medLedger, privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [])
        let error = try #require(throws: CryptoError.self) { try recipient.open(aad: [], ciphertext: second) }
        #expect(error.code == .authenticationFailed)
        #expect(recipient.sequenceNumber == 0)
        #expect(try recipient.open(aad: [], ciphertext: first) == [1])
        // A replay of the first message is now out of order too.
        #expect(throws: CryptoError.self) { try recipient.open(aad: [], ciphertext: first) }
        #expect(try recipient.open(aad: [], ciphertext: second) == [2])
    }

    @Test("contexts are references: a copy shares the sequence number, so no nonce repeats")
    func copiesShareTheCounter() throws {
        let sender = try HPKE.Sender(suite: .medLedger, recipient: X25519.PrivateKey().publicKey, info: [])
        let copy = sender
        let a = try sender.seal(aad: [], plaintext: [0, 0, 0, 0])
        let b = try copy.seal(aad: [], plaintext: [0, 0, 0, 0])
        #expect(a != b)
        #expect(sender.sequenceNumber == 2)
    }

    @Test("concurrent seals on one context take distinct sequence numbers")
    func concurrentSeals() async throws {
        let recipientKey = X25519.PrivateKey()
        let sender = try HPKE.Sender(suite: .medLedger, recipient: recipientKey.publicKey, info: [])
        let plaintext = [UInt8](repeating: 0x5a, count: 16)
        let ciphertexts = try await withThrowingTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<8 {
                group.addTask { try (0..<50).map { _ in try sender.seal(aad: [], plaintext: plaintext) } }
            }
            return try await group.reduce(into: [[UInt8]]()) { $0 += $1 }
        }
        #expect(ciphertexts.count == 400)
        #expect(Set(ciphertexts).count == 400, "two seals shared a nonce")
        #expect(sender.sequenceNumber == 400)
        // Every ciphertext is the encryption of the plaintext at some sequence number 0..<400:
        // a recipient that tries each in turn at its position finds all of them.
        let recipient = try HPKE.Recipient(
            suite: .medLedger, privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [])
        var remaining = Set(ciphertexts)
        while !remaining.isEmpty {
            let next = try #require(remaining.first { (try? recipient.open(aad: [], ciphertext: $0)) != nil })
            remaining.remove(next)
        }
        #expect(recipient.sequenceNumber == 400)
    }

    @Test("the nonce is base_nonce XOR the 12-byte big-endian sequence number, beyond 64 bits too")
    func nonceComputation() throws {
        let vector = try #require(try HPKETestVectors.rfcVectors().first)
        let suite = try #require(vector.suite)
        let sender = try HPKE.Sender(
            suite: suite, recipient: HPKETestVectors.privateKey(hex: vector.skRm).publicKey,
            info: bytes(hex: vector.info), ephemeralKey: HPKETestVectors.privateKey(hex: vector.skEm))
        let base = bytes(hex: vector.baseNonce)
        func expected(_ sequence: [UInt8]) -> [UInt8] { zip(base, sequence).map { $0 ^ $1 } }
        #expect(sender.nonce(sequenceNumber: 0) == base)
        #expect(sender.nonce(sequenceNumber: 0x0102) == expected([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]))
        #expect(sender.nonce(sequenceNumber: 1 << 64) == expected([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(sender.nonce(sequenceNumber: (1 << 96) - 2) == expected([UInt8](repeating: 0xff, count: 11) + [0xfe]))
    }

    @Test("the message limit: sequence number 2^96 - 2 is the last one used; then both sides refuse", arguments: suites)
    func messageLimit(suite: HPKE.Suite) throws {
        let limit: UInt128 = (1 << 96) - 1
        let recipientKey = X25519.PrivateKey()
        let sender = try HPKE.Sender(suite: suite, recipient: recipientKey.publicKey, info: [])
        let recipient = try HPKE.Recipient(
            suite: suite, privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [])
        sender.setSequenceNumber(limit - 1)
        recipient.setSequenceNumber(limit - 1)

        let last = try sender.seal(aad: [], plaintext: [9])
        #expect(try recipient.open(aad: [], ciphertext: last) == [9])
        #expect(sender.sequenceNumber == limit)

        let sealError = try #require(throws: CryptoError.self) { try sender.seal(aad: [], plaintext: [10]) }
        #expect(sealError.code == .invalidLength)
        #expect(sealError.message.contains("message limit"))
        #expect(sender.sequenceNumber == limit, "a refused seal does not move the counter")
        let openError = try #require(throws: CryptoError.self) { try recipient.open(aad: [], ciphertext: last) }
        #expect(openError.code == .invalidLength)
        // Exports still work at the limit: they do not use the sequence number.
        #expect(try sender.export(exporterContext: [], length: 16).count == 16)
    }

    @Test("exports: both sides agree, contexts and lengths give independent secrets, 0 to 8160 bytes")
    func exports() throws {
        let recipientKey = X25519.PrivateKey()
        let sender = try HPKE.Sender(suite: .medLedger, recipient: recipientKey.publicKey, info: [1, 2])
        let recipient = try HPKE.Recipient(
            suite: .medLedger, privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [1, 2])
        for (context, length) in [([UInt8](), 32), ([1], 32), ([1], 64), ([], 0), ([], 8160)] {
            let mine = try sender.export(exporterContext: context, length: length)
            let theirs = try recipient.export(exporterContext: context, length: length)
            #expect(mine.count == length)
            #expect(mine.constantTimeEquals(theirs))
        }
        let a = try sender.export(exporterContext: [1], length: 32).unprotectedBytes
        let b = try sender.export(exporterContext: [2], length: 32).unprotectedBytes
        #expect(a != b)
        // A shorter export is not a prefix of a longer one: L is bound into the derivation.
        let short = try sender.export(exporterContext: [1], length: 16).unprotectedBytes
        #expect(short != Array(a.prefix(16)))
        for length in [-1, 8161, 70_000] {
            let error = try #require(throws: CryptoError.self) {
                try sender.export(exporterContext: [], length: length)
            }
            #expect(error.code == .invalidLength)
        }
    }

    @Test("DeriveKeyPair is deterministic and needs at least 32 bytes of input")
    func deriveKeyPair() throws {
        let ikm = SecureBytes([UInt8](repeating: 0x42, count: 32))
        let a = try HPKE.deriveKeyPair(kem: .dhkemX25519HKDFSHA256, inputKeyMaterial: ikm)
        let b = try HPKE.deriveKeyPair(kem: .dhkemX25519HKDFSHA256, inputKeyMaterial: ikm)
        #expect(a.publicKey == b.publicKey)
        let error = try #require(throws: CryptoError.self) {
            try HPKE.deriveKeyPair(
                kem: .dhkemX25519HKDFSHA256, inputKeyMaterial: SecureBytes([UInt8](repeating: 1, count: 31)))
        }
        #expect(error.code == .invalidLength)
    }
}
