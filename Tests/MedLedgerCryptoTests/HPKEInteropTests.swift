import Foundation
import MedLedgerCrypto
import Testing

/// Interoperability with pyhpke, an independent RFC 9180 implementation, through the files in
/// Protocol/vectors/hpke/:
///
/// - pyhpke-sealed.json: pyhpke sealed (Tools/spec-check/hpke_interop.py --generate); we open
///   every message, compare the exports, and where the ephemeral `ikmE` is recorded reproduce
///   `enc` and every ciphertext byte for byte.
/// - swift-sealed.json: we sealed (this suite, with `MEDLEDGER_WRITE_VECTORS=1`); otherwise the
///   file is checked here the same way, and `hpke_interop.py --check` opens it with pyhpke.
@Suite("HPKE interop (pyhpke)", .serialized)
struct HPKEInteropTests {
    /// Opens every message of `vector` and compares exports; re-seals when `ikmE` is recorded.
    static func verify(_ vector: InteropVector) throws {
        #expect(vector.mode == 0)
        let suite = try #require(vector.suite, "unsupported suite in \(vector.name)")
        let recipientKey = try HPKETestVectors.privateKey(hex: vector.skRm)
        #expect(hpkeHex(recipientKey.publicKey.bytes) == vector.pkRm, "pkRm is not the public key of skRm")
        let derived = try HPKETestVectors.derivedKey(ikmHex: vector.ikmR)
        #expect(hpkeHex(derived.rawKey.unprotectedBytes) == vector.skRm, "DeriveKeyPair(ikmR) is not skRm")
        let info = bytes(hex: vector.info)
        let enc = bytes(hex: vector.enc)

        let recipient = try HPKE.Recipient(suite: suite, privateKey: recipientKey, encapsulatedKey: enc, info: info)
        for (index, message) in vector.encryptions.enumerated() {
            #expect(message.seq == index, "messages are listed in sequence order")
            let opened = try recipient.open(aad: bytes(hex: message.aad), ciphertext: bytes(hex: message.ct))
            #expect(hpkeHex(opened) == message.pt, "\(vector.name) message \(message.seq)")
        }
        for export in vector.exports {
            let value = try recipient.export(exporterContext: bytes(hex: export.exporterContext), length: export.length)
            #expect(
                hpkeHex(value.unprotectedBytes) == export.exportedValue,
                "\(vector.name) export \(export.exporterContext)")
        }
        if let first = vector.encryptions.first {
            let opened = try HPKE.open(
                suite: suite, recipient: recipientKey, encapsulatedKey: enc, info: info, aad: bytes(hex: first.aad),
                ciphertext: bytes(hex: first.ct))
            #expect(hpkeHex(opened) == first.pt, "single-shot open of \(vector.name)")
        }

        guard let ikmE = vector.ikmE else { return }
        let sender = try HPKE.Sender(
            suite: suite, recipient: recipientKey.publicKey, info: info,
            ephemeralKey: HPKETestVectors.derivedKey(ikmHex: ikmE))
        #expect(sender.encapsulatedKey == enc, "\(vector.name): DeriveKeyPair(ikmE) does not give enc")
        for message in vector.encryptions {
            let ciphertext = try sender.seal(aad: bytes(hex: message.aad), plaintext: bytes(hex: message.pt))
            #expect(hpkeHex(ciphertext) == message.ct, "\(vector.name): re-sealing message \(message.seq) differs")
        }
    }

    @Test("pyhpke-sealed.json covers both AEADs, contexts, exports and a random ephemeral key")
    func pyhpkeCoverage() throws {
        let file = try HPKETestVectors.interopFile(HPKETestVectors.pyhpkeSealedFile)
        #expect(file.producer.hasPrefix("pyhpke "))
        #expect(Set(file.vectors.map(\.aeadID)) == [1, 2])
        #expect(file.vectors.contains { $0.encryptions.count >= 5 })
        #expect(file.vectors.contains { !$0.exports.isEmpty })
        #expect(file.vectors.contains { $0.ikmE == nil })
    }

    @Test(
        "every message pyhpke sealed opens here",
        arguments: try HPKETestVectors.interopFile(HPKETestVectors.pyhpkeSealedFile).vectors)
    func openPyhpkeSealed(_ vector: InteropVector) throws {
        try Self.verify(vector)
    }

    // MARK: swift-sealed.json

    /// What swift-sealed.json holds: the same shapes as pyhpke-sealed.json.
    struct Plan {
        let name: String
        let comment: String
        let aead: HPKE.AEAD
        let recipientIKM: String
        let info: [UInt8]
        let messages: [(aad: [UInt8], plaintext: [UInt8])]
        let exports: [(context: [UInt8], length: Int)]
        let fixedEphemeral: Bool
    }

    static let recipientA = Array("MedLedger HPKE interop recipient A".utf8)
    static let recipientB = Array("MedLedger HPKE interop recipient B".utf8)

    static func plans() -> [Plan] {
        [
            Plan(
                name: "record-key-wrap",
                comment: "one message: a 32-byte record data key wrapped for a patient, as DESIGN.md describes",
                aead: .aes256GCM, recipientIKM: hpkeHex(recipientA), info: Array("MedLedger record key v1".utf8),
                messages: [(Array("record 0001 for patient A".utf8), secureRandomBytes(32))], exports: [],
                fixedEphemeral: true),
            Plan(
                name: "empty-info-aad-plaintext",
                comment: "empty info, aad and plaintext: the ciphertext is only the tag",
                aead: .aes256GCM, recipientIKM: hpkeHex(recipientA), info: [], messages: [([], [])],
                exports: [([], 32)], fixedEphemeral: true),
            Plan(
                name: "long-message", comment: "long info, aad and plaintext",
                aead: .aes256GCM, recipientIKM: hpkeHex(recipientB), info: secureRandomBytes(64),
                messages: [(secureRandomBytes(100), secureRandomBytes(1000))], exports: [], fixedEphemeral: true),
            Plan(
                name: "context-five-messages",
                comment: "one context, five messages at sequence numbers 0 to 4, and three exports",
                aead: .aes256GCM, recipientIKM: hpkeHex(recipientA), info: Array("MedLedger HPKE interop context".utf8),
                messages: (0..<5).map { (Array("message-\($0)".utf8), secureRandomBytes(7 * $0)) },
                exports: [([], 32), (Array("MedLedger export".utf8), 64), ([0], 1)], fixedEphemeral: true),
            Plan(
                name: "aes128-context", comment: "AES-128-GCM (aead_id 1), three messages and one export",
                aead: .aes128GCM, recipientIKM: hpkeHex(recipientB),
                info: Array("MedLedger HPKE interop AES-128-GCM".utf8),
                messages: (0..<3).map { (Array("aad-\($0)".utf8), secureRandomBytes(16 + $0)) },
                exports: [(Array("exporter".utf8), 48)], fixedEphemeral: true),
            Plan(
                name: "random-ephemeral",
                comment: "sealed through the public API with a random ephemeral key, so no ikmE is recorded",
                aead: .aes256GCM, recipientIKM: hpkeHex(recipientB), info: Array("MedLedger record key v1".utf8),
                messages: [
                    (Array("record 0002 for patient B".utf8), secureRandomBytes(32)),
                    (Array("second".utf8), Array("two".utf8)),
                ],
                exports: [(Array("context".utf8), 32)], fixedEphemeral: false),
        ]
    }

    static func seal(_ plan: Plan) throws -> InteropVector {
        let suite = HPKE.Suite(kem: .dhkemX25519HKDFSHA256, kdf: .hkdfSHA256, aead: plan.aead)
        let recipient = try HPKETestVectors.derivedKey(ikmHex: plan.recipientIKM)
        let ikmE = plan.fixedEphemeral ? secureRandomBytes(32) : nil
        let sender =
            if let ikmE {
                try HPKE.Sender(
                    suite: suite, recipient: recipient.publicKey, info: plan.info,
                    ephemeralKey: HPKETestVectors.derivedKey(ikmHex: hpkeHex(ikmE)))
            } else {
                try HPKE.Sender(suite: suite, recipient: recipient.publicKey, info: plan.info)
            }
        let encryptions = try plan.messages.enumerated().map { index, message in
            InteropVector.Encryption(
                seq: index, aad: hpkeHex(message.aad), pt: hpkeHex(message.plaintext),
                ct: hpkeHex(try sender.seal(aad: message.aad, plaintext: message.plaintext)))
        }
        let exports = try plan.exports.map { export in
            InteropVector.Export(
                exporterContext: hpkeHex(export.context), length: export.length,
                exportedValue: hpkeHex(
                    try sender.export(exporterContext: export.context, length: export.length).unprotectedBytes))
        }
        return InteropVector(
            name: plan.name, comment: plan.comment, mode: 0, kemID: Int(suite.kem.rawValue),
            kdfID: Int(suite.kdf.rawValue),
            aeadID: Int(suite.aead.rawValue), ikmR: plan.recipientIKM, skRm: hpkeHex(recipient.rawKey.unprotectedBytes),
            pkRm: hpkeHex(recipient.publicKey.bytes), ikmE: ikmE.map { hpkeHex($0) }, info: hpkeHex(plan.info),
            enc: hpkeHex(sender.encapsulatedKey), encryptions: encryptions, exports: exports)
    }

    @Test("swift-sealed.json: written with MEDLEDGER_WRITE_VECTORS=1, otherwise every message opens and re-seals here")
    func swiftSealed() throws {
        let plans = Self.plans()
        if HPKETestVectors.regenerating {
            let file = InteropFile(
                description: "HPKE (RFC 9180) base-mode messages sealed by MedLedgerCrypto, for pyhpke to open",
                producer: "MedLedgerCrypto HPKE via HPKEInteropTests (MEDLEDGER_WRITE_VECTORS=1 swift test)",
                vectors: try plans.map(Self.seal))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try FileManager.default.createDirectory(
                at: HPKETestVectors.swiftSealedFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (encoder.encode(file) + Data("\n".utf8)).write(to: HPKETestVectors.swiftSealedFile, options: .atomic)
        }
        let file = try HPKETestVectors.interopFile(HPKETestVectors.swiftSealedFile)
        #expect(
            file.vectors.map(\.name) == plans.map(\.name),
            "swift-sealed.json does not hold the planned cases: run with MEDLEDGER_WRITE_VECTORS=1 to regenerate")
        for vector in file.vectors {
            try Self.verify(vector)
        }
    }
}
