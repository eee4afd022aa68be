import MedLedgerCrypto
import Testing

/// RFC 9180's known answers for mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, with
/// AES-128-GCM (Appendix A.1.1) and AES-256-GCM (the CFRG test-vectors.json only), read from
/// Vectors/hpke/rfc9180-base-x25519-sha256.json (see the README there for its source).
@Suite("HPKE known answers (RFC 9180)")
struct HPKEKnownAnswerTests {
    @Test("the vector file holds mode_base X25519/HKDF-SHA256 with AES-128-GCM and AES-256-GCM")
    func vectorFileCoverage() throws {
        let vectors = try HPKETestVectors.rfcVectors()
        #expect(vectors.map(\.aeadID).sorted() == [1, 2])
        for vector in vectors {
            #expect(vector.mode == 0 && vector.kemID == 0x20 && vector.kdfID == 1)
            #expect(vector.suite != nil)
            #expect(vector.encryptions.count == 257, "sequence numbers 0 to 256")
            #expect(vector.exports.count == 3)
        }
    }

    @Test(
        "DeriveKeyPair(ikmE) and DeriveKeyPair(ikmR) give skEm/pkEm and skRm/pkRm",
        arguments: try HPKETestVectors.rfcVectors())
    func deriveKeyPair(_ vector: RFCVector) throws {
        let ephemeral = try HPKETestVectors.derivedKey(ikmHex: vector.ikmE)
        #expect(hpkeHex(ephemeral.rawKey.unprotectedBytes) == vector.skEm)
        #expect(hpkeHex(ephemeral.publicKey.bytes) == vector.pkEm)
        let recipient = try HPKETestVectors.derivedKey(ikmHex: vector.ikmR)
        #expect(hpkeHex(recipient.rawKey.unprotectedBytes) == vector.skRm)
        #expect(hpkeHex(recipient.publicKey.bytes) == vector.pkRm)
    }

    @Test(
        "Encap with skEm gives enc and shared_secret; Decap with skRm gives the same",
        arguments: try HPKETestVectors.rfcVectors())
    func encapsulation(_ vector: RFCVector) throws {
        let ephemeral = try HPKETestVectors.privateKey(hex: vector.skEm)
        let recipient = try HPKETestVectors.privateKey(hex: vector.skRm)
        let (sharedSecret, enc) = try HPKE.encapsulate(
            kem: .dhkemX25519HKDFSHA256, recipient: recipient.publicKey, ephemeralKey: ephemeral)
        #expect(hpkeHex(enc) == vector.enc)
        #expect(hpkeHex(sharedSecret.unprotectedBytes) == vector.sharedSecret)
        let decapsulated = try HPKE.decapsulate(
            kem: .dhkemX25519HKDFSHA256, encapsulatedKey: bytes(hex: vector.enc), recipient: recipient)
        #expect(hpkeHex(decapsulated.unprotectedBytes) == vector.sharedSecret)
    }

    @Test(
        "the key schedule gives key_schedule_context, secret, key, base_nonce, exporter_secret",
        arguments: try HPKETestVectors.rfcVectors())
    func keySchedule(_ vector: RFCVector) throws {
        let suite = try #require(vector.suite)
        let schedule = try HPKE.keySchedule(
            suite: suite, sharedSecret: SecureBytes(bytes(hex: vector.sharedSecret)), info: bytes(hex: vector.info))
        #expect(hpkeHex(schedule.keyScheduleContext) == vector.keyScheduleContext)
        #expect(hpkeHex(schedule.secret.unprotectedBytes) == vector.secret)
        #expect(hpkeHex(schedule.key.unprotectedBytes) == vector.key)
        #expect(hpkeHex(schedule.baseNonce.unprotectedBytes) == vector.baseNonce)
        #expect(hpkeHex(schedule.exporterSecret.unprotectedBytes) == vector.exporterSecret)
    }

    @Test(
        "all 257 encryptions (sequence numbers 0 to 256): nonce, seal and open",
        arguments: try HPKETestVectors.rfcVectors())
    func encryptions(_ vector: RFCVector) throws {
        let suite = try #require(vector.suite)
        let info = bytes(hex: vector.info)
        let recipientKey = try HPKETestVectors.privateKey(hex: vector.skRm)
        let sender = try HPKE.Sender(
            suite: suite, recipient: recipientKey.publicKey, info: info,
            ephemeralKey: HPKETestVectors.privateKey(hex: vector.skEm))
        #expect(hpkeHex(sender.encapsulatedKey) == vector.enc)
        let recipient = try HPKE.Recipient(
            suite: suite, privateKey: recipientKey, encapsulatedKey: bytes(hex: vector.enc), info: info)
        for (sequence, encryption) in vector.encryptions.enumerated() {
            #expect(sender.sequenceNumber == UInt128(sequence))
            #expect(hpkeHex(sender.nonce(sequenceNumber: UInt128(sequence))) == encryption.nonce, "nonce \(sequence)")
            let ciphertext = try sender.seal(aad: bytes(hex: encryption.aad), plaintext: bytes(hex: encryption.pt))
            #expect(hpkeHex(ciphertext) == encryption.ct, "seal at sequence number \(sequence)")
            let plaintext = try recipient.open(aad: bytes(hex: encryption.aad), ciphertext: bytes(hex: encryption.ct))
            #expect(hpkeHex(plaintext) == encryption.pt, "open at sequence number \(sequence)")
        }
        #expect(sender.sequenceNumber == 257)
        #expect(recipient.sequenceNumber == 257)
    }

    @Test("the single-shot open takes the first encryption", arguments: try HPKETestVectors.rfcVectors())
    func singleShotOpen(_ vector: RFCVector) throws {
        let suite = try #require(vector.suite)
        let first = try #require(vector.encryptions.first)
        let plaintext = try HPKE.open(
            suite: suite, recipient: HPKETestVectors.privateKey(hex: vector.skRm),
            encapsulatedKey: bytes(hex: vector.enc),
            info: bytes(hex: vector.info), aad: bytes(hex: first.aad), ciphertext: bytes(hex: first.ct))
        #expect(hpkeHex(plaintext) == first.pt)
    }

    @Test("exported values, from the sender and the recipient", arguments: try HPKETestVectors.rfcVectors())
    func exports(_ vector: RFCVector) throws {
        let suite = try #require(vector.suite)
        let info = bytes(hex: vector.info)
        let recipientKey = try HPKETestVectors.privateKey(hex: vector.skRm)
        let sender = try HPKE.Sender(
            suite: suite, recipient: recipientKey.publicKey, info: info,
            ephemeralKey: HPKETestVectors.privateKey(hex: vector.skEm))
        let recipient = try HPKE.Recipient(
            suite: suite, privateKey: recipientKey, encapsulatedKey: bytes(hex: vector.enc), info: info)
        for export in vector.exports {
            let context = bytes(hex: export.exporterContext)
            let fromSender = try sender.export(exporterContext: context, length: export.length)
            let fromRecipient = try recipient.export(exporterContext: context, length: export.length)
            #expect(
                hpkeHex(fromSender.unprotectedBytes) == export.exportedValue, "sender export \(export.exporterContext)")
            #expect(
                hpkeHex(fromRecipient.unprotectedBytes) == export.exportedValue,
                "recipient export \(export.exporterContext)")
        }
    }

    /// RFC 9180 Appendix A.1.1, copied from the RFC's text rather than the JSON file, so that a
    /// damaged or substituted vector file cannot go unnoticed.
    enum AppendixA11 {
        static let ikmE = "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234"
        static let skEm = "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736"
        static let pkEm = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
        static let ikmR = "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037"
        static let skRm = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8"
        static let pkRm = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d"
        static let info = "4f6465206f6e2061204772656369616e2055726e"
        static let sharedSecret = "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc"
        static let key = "4531685d41d65f03dc48f6b8302c05b0"
        static let baseNonce = "56d890e5accaaf011cff4b7d"
        static let exporterSecret = "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8"
        static let plaintext = "4265617574792069732074727574682c20747275746820626561757479"
        /// (sequence number, aad, ciphertext)
        static let encryptions: [(Int, String, String)] = [
            (
                0, "436f756e742d30",
                "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"
            ),
            (
                1, "436f756e742d31",
                "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84"
            ),
            (
                2, "436f756e742d32",
                "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180"
            ),
            (
                4, "436f756e742d34",
                "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d"
            ),
            (
                255, "436f756e742d323535",
                "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a"
            ),
            (
                256, "436f756e742d323536",
                "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2"
            ),
        ]
        /// (exporter_context, L, exported_value)
        static let exports: [(String, Int, String)] = [
            ("", 32, "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"),
            ("00", 32, "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5"),
            ("54657374436f6e74657874", 32, "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931"),
        ]
    }

    @Test("Appendix A.1.1 as printed in RFC 9180, independently of the JSON file")
    func appendixA11() throws {
        typealias A = AppendixA11
        let suite = HPKE.Suite(kem: .dhkemX25519HKDFSHA256, kdf: .hkdfSHA256, aead: .aes128GCM)
        let ephemeral = try HPKETestVectors.derivedKey(ikmHex: A.ikmE)
        let recipientKey = try HPKETestVectors.derivedKey(ikmHex: A.ikmR)
        #expect(hpkeHex(ephemeral.rawKey.unprotectedBytes) == A.skEm)
        #expect(hpkeHex(ephemeral.publicKey.bytes) == A.pkEm)
        #expect(hpkeHex(recipientKey.rawKey.unprotectedBytes) == A.skRm)
        #expect(hpkeHex(recipientKey.publicKey.bytes) == A.pkRm)

        let (sharedSecret, enc) = try HPKE.encapsulate(
            kem: suite.kem, recipient: recipientKey.publicKey, ephemeralKey: ephemeral)
        #expect(hpkeHex(enc) == A.pkEm)
        #expect(hpkeHex(sharedSecret.unprotectedBytes) == A.sharedSecret)
        let schedule = try HPKE.keySchedule(suite: suite, sharedSecret: sharedSecret, info: bytes(hex: A.info))
        #expect(hpkeHex(schedule.key.unprotectedBytes) == A.key)
        #expect(hpkeHex(schedule.baseNonce.unprotectedBytes) == A.baseNonce)
        #expect(hpkeHex(schedule.exporterSecret.unprotectedBytes) == A.exporterSecret)

        let sender = try HPKE.Sender(
            suite: suite, recipient: recipientKey.publicKey, info: bytes(hex: A.info), ephemeralKey: ephemeral)
        let recipient = try HPKE.Recipient(
            suite: suite, privateKey: recipientKey, encapsulatedKey: enc, info: bytes(hex: A.info))
        for (sequence, aad, expected) in A.encryptions {
            sender.setSequenceNumber(UInt128(sequence))
            recipient.setSequenceNumber(UInt128(sequence))
            let ciphertext = try sender.seal(aad: bytes(hex: aad), plaintext: bytes(hex: A.plaintext))
            #expect(hpkeHex(ciphertext) == expected, "sequence number \(sequence)")
            #expect(hpkeHex(try recipient.open(aad: bytes(hex: aad), ciphertext: ciphertext)) == A.plaintext)
        }
        for (context, length, expected) in A.exports {
            #expect(
                hpkeHex(try sender.export(exporterContext: bytes(hex: context), length: length).unprotectedBytes)
                    == expected)
        }

        // The JSON file agrees with the RFC's text.
        let vector = try #require(try HPKETestVectors.rfcVectors().first { $0.aeadID == 1 })
        #expect(vector.ikmE == A.ikmE && vector.ikmR == A.ikmR && vector.info == A.info)
        #expect(vector.sharedSecret == A.sharedSecret && vector.key == A.key && vector.baseNonce == A.baseNonce)
        #expect(vector.exporterSecret == A.exporterSecret)
        for (sequence, aad, expected) in A.encryptions {
            #expect(vector.encryptions[sequence].aad == aad && vector.encryptions[sequence].ct == expected)
        }
    }
}
