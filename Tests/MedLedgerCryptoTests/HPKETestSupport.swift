import Foundation
import MedLedgerCrypto
import Testing

/// Vector files and helpers shared by the HPKE tests. Files are found from this source file's
/// path (not SwiftPM resources), so the tests run from any working directory.
enum HPKETestVectors {
    /// The package root: three levels above this file.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// RFC 9180's test vectors for mode_base with DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256.
    static let rfcFile = root.appendingPathComponent(
        "Tests/MedLedgerCryptoTests/Vectors/hpke/rfc9180-base-x25519-sha256.json")

    /// Messages pyhpke sealed (Tools/spec-check/hpke_interop.py --generate).
    static let pyhpkeSealedFile = root.appendingPathComponent("Protocol/vectors/hpke/pyhpke-sealed.json")

    /// Messages this implementation sealed, for pyhpke to open (hpke_interop.py --check).
    static let swiftSealedFile = root.appendingPathComponent("Protocol/vectors/hpke/swift-sealed.json")

    /// Whether this run should rewrite swift-sealed.json.
    static var regenerating: Bool { ProcessInfo.processInfo.environment["MEDLEDGER_WRITE_VECTORS"] == "1" }

    static func rfcVectors() throws -> [RFCVector] {
        try JSONDecoder().decode([RFCVector].self, from: Data(contentsOf: rfcFile))
    }

    static func interopFile(_ url: URL) throws -> InteropFile {
        try JSONDecoder().decode(InteropFile.self, from: Data(contentsOf: url))
    }

    /// The suite of a vector's ids; nil for one this implementation does not support.
    static func suite(kem: Int, kdf: Int, aead: Int) -> HPKE.Suite? {
        guard let kem = UInt16(exactly: kem).flatMap(HPKE.KEM.init(rawValue:)),
            let kdf = UInt16(exactly: kdf).flatMap(HPKE.KDF.init(rawValue:)),
            let aead = UInt16(exactly: aead).flatMap(HPKE.AEAD.init(rawValue:))
        else { return nil }
        return HPKE.Suite(kem: kem, kdf: kdf, aead: aead)
    }

    /// The private key with these raw bytes.
    static func privateKey(hex: String) throws -> X25519.PrivateKey {
        try X25519.PrivateKey(rawKey: SecureBytes(bytes(hex: hex)))
    }

    /// `DeriveKeyPair(ikm)`.
    static func derivedKey(ikmHex: String) throws -> X25519.PrivateKey {
        try HPKE.deriveKeyPair(kem: .dhkemX25519HKDFSHA256, inputKeyMaterial: SecureBytes(bytes(hex: ikmHex)))
    }
}

/// Lowercase hex of `bytes`.
func hpkeHex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// One entry of the CFRG test-vectors.json of RFC 9180, with the members the tests use.
struct RFCVector: Decodable, Sendable, CustomTestStringConvertible {
    struct Encryption: Decodable, Sendable {
        let aad: String
        let ct: String
        let nonce: String
        let pt: String
    }

    struct Export: Decodable, Sendable {
        let exporterContext: String
        let length: Int
        let exportedValue: String

        enum CodingKeys: String, CodingKey {
            case exporterContext = "exporter_context"
            case length = "L"
            case exportedValue = "exported_value"
        }
    }

    let mode: Int
    let kemID: Int
    let kdfID: Int
    let aeadID: Int
    let info: String
    let ikmR: String
    let ikmE: String
    let skRm: String
    let skEm: String
    let pkRm: String
    let pkEm: String
    let enc: String
    let sharedSecret: String
    let keyScheduleContext: String
    let secret: String
    let key: String
    let baseNonce: String
    let exporterSecret: String
    let encryptions: [Encryption]
    let exports: [Export]

    enum CodingKeys: String, CodingKey {
        case mode, info, ikmR, ikmE, skRm, skEm, pkRm, pkEm, enc, secret, key, encryptions, exports
        case kemID = "kem_id"
        case kdfID = "kdf_id"
        case aeadID = "aead_id"
        case sharedSecret = "shared_secret"
        case keyScheduleContext = "key_schedule_context"
        case baseNonce = "base_nonce"
        case exporterSecret = "exporter_secret"
    }

    var suite: HPKE.Suite? { HPKETestVectors.suite(kem: kemID, kdf: kdfID, aead: aeadID) }

    var testDescription: String {
        "mode \(mode), kem 0x\(String(kemID, radix: 16)), kdf \(kdfID), aead \(aeadID)"
    }
}

/// A file of interop vectors: Protocol/vectors/hpke/{pyhpke,swift}-sealed.json.
struct InteropFile: Codable, Sendable {
    var description: String
    var producer: String
    var vectors: [InteropVector]
}

/// One encapsulation and the messages sealed under it, in sequence order.
struct InteropVector: Codable, Sendable, CustomTestStringConvertible {
    struct Encryption: Codable, Sendable {
        var seq: Int
        var aad: String
        var pt: String
        var ct: String
    }

    struct Export: Codable, Sendable {
        var exporterContext: String
        var length: Int
        var exportedValue: String

        enum CodingKeys: String, CodingKey {
            case exporterContext = "exporter_context"
            case length = "L"
            case exportedValue = "exported_value"
        }
    }

    var name: String
    var comment: String
    var mode: Int
    var kemID: Int
    var kdfID: Int
    var aeadID: Int
    var ikmR: String
    var skRm: String
    var pkRm: String
    /// The ephemeral key's DeriveKeyPair input, when the sealing side recorded it; absent when the
    /// ephemeral key was random, and then the ciphertexts can be opened but not reproduced.
    var ikmE: String?
    var info: String
    var enc: String
    var encryptions: [Encryption]
    var exports: [Export]

    enum CodingKeys: String, CodingKey {
        case name, comment, mode, ikmR, skRm, pkRm, ikmE, info, enc, encryptions, exports
        case kemID = "kem_id"
        case kdfID = "kdf_id"
        case aeadID = "aead_id"
    }

    var suite: HPKE.Suite? { HPKETestVectors.suite(kem: kemID, kdf: kdfID, aead: aeadID) }

    var testDescription: String { name }
}
