import Foundation
import MedLedgerCrypto
import Testing

/// The example files of Protocol/KEYS.md section 8 (Vectors/keyfile/, written by an independent
/// Python program from the spec alone): the Swift writer reproduces them byte for byte, the reader
/// opens them, and KEYS.md quotes them exactly.
@Suite("Key files: KEYS.md examples")
struct KeyFileExampleTests {
    struct Example: CustomTestStringConvertible, Sendable {
        let file: String
        let secret: String
        let publicKey: String
        /// The sealing key KEYS.md gives, for sealed examples.
        let sealingKey: String?
        var testDescription: String { file }
    }

    static let examples = [
        Example(
            file: "ed25519-plain.key", secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", sealingKey: nil),
        Example(
            file: "x25519-plain.key", secret: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            publicKey: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", sealingKey: nil),
        Example(
            file: "ed25519-sealed.key", secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            sealingKey: "b6b0e04f381ba81d73ffd3476078a3b8f335a54dc276bf28ada6c1209940842f"),
        Example(
            file: "x25519-sealed.key", secret: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
            publicKey: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
            sealingKey: "ccbcb170b915c94629cb5ea4266f85268f83fb89782d35739ca7451ee0cf2790"),
    ]

    static let keysDocument = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/KEYS.md")

    static func bytes(of example: Example) throws -> [UInt8] {
        Array(try Data(contentsOf: KnownAnswerVectorFiles.directory.appendingPathComponent("keyfile/" + example.file)))
    }

    static func field(_ name: String, in bytes: [UInt8]) -> String? {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + ": ") }
            .map { String($0.dropFirst(name.count + 2)) }
    }

    @Test("The reader opens each example and finds the published key", arguments: examples)
    func reads(_ example: Example) throws {
        let bytes = try Self.bytes(of: example)
        let key = try KeyFile.decode(bytes, passphrase: KeyFileTestSupport.passphrase, source: example.file)
        #expect(KeyFileTestSupport.secretHex(key) == example.secret)
        #expect(key.publicKeyBytes == MedLedgerCryptoTests.bytes(hex: example.publicKey))
        #expect(key.type.rawValue == String(example.file.prefix { $0 != "-" }))
        #expect(try KeyFile.decodeHeader(bytes).isEncrypted == (example.sealingKey != nil))
    }

    @Test("The Swift writer reproduces each example byte for byte", arguments: examples)
    func writes(_ example: Example) throws {
        let bytes = try Self.bytes(of: example)
        let header = try KeyFile.decodeHeader(bytes)
        let key = try KeyFile.decode(bytes, passphrase: KeyFileTestSupport.passphrase)
        let protection: KeyFile.Protection
        var salt: [UInt8]?
        var nonce: [UInt8]?
        switch header.encryption {
        case .none:
            protection = .none
        case .scryptAES256GCM(let parameters):
            protection = .passphrase(KeyFileTestSupport.passphrase, parameters: parameters)
            salt = MedLedgerCryptoTests.bytes(hex: try #require(Self.field("salt", in: bytes)))
            nonce = MedLedgerCryptoTests.bytes(hex: try #require(Self.field("nonce", in: bytes)))
        }
        let written = try KeyFile.encode(key, protection: protection, comment: header.comment, salt: salt, nonce: nonce)
        #expect(written.unprotectedBytes == bytes)
    }

    @Test("KEYS.md gives each sealed example's sealing key and associated data length", arguments: examples.filter { $0.sealingKey != nil })
    func sealingKeys(_ example: Example) throws {
        let bytes = try Self.bytes(of: example)
        guard case .scryptAES256GCM(let parameters) = try KeyFile.decodeHeader(bytes).encryption else {
            Issue.record("\(example.file) is not sealed")
            return
        }
        let salt = MedLedgerCryptoTests.bytes(hex: try #require(Self.field("salt", in: bytes)))
        let derived = try Scrypt.deriveKey(passphrase: KeyFileTestSupport.passphrase, salt: salt, parameters: parameters, length: 32)
        #expect(derived.unprotectedBytes == MedLedgerCryptoTests.bytes(hex: try #require(example.sealingKey)))
        let document = try String(contentsOf: Self.keysDocument, encoding: .utf8)
        #expect(document.contains(try #require(example.sealingKey)))
        let text = String(decoding: bytes, as: UTF8.self)
        let associatedLength = try #require(text.range(of: "sealed-private: ")).lowerBound.utf16Offset(in: text)
        #expect(document.contains("first \(associatedLength) bytes"), "KEYS.md states the associated data length \(associatedLength)")
    }

    @Test("KEYS.md quotes every example file exactly", arguments: examples)
    func quotedInSpec(_ example: Example) throws {
        let document = try String(contentsOf: Self.keysDocument, encoding: .utf8)
        let opening = "```keyfile \(example.file)\n"
        let start = try #require(document.range(of: opening), "KEYS.md has a ```keyfile \(example.file) block")
        let end = try #require(document.range(of: "```", range: start.upperBound..<document.endIndex))
        #expect(Array(document[start.upperBound..<end.lowerBound].utf8) == (try Self.bytes(of: example)))
    }

    @Test("The example files are under 4096 bytes and pass the format checks as they are")
    func formatLimits() throws {
        for example in Self.examples {
            let bytes = try Self.bytes(of: example)
            #expect(bytes.count < 700)
            #expect(bytes.last == 0x0A)
            #expect(bytes.allSatisfy { $0 == 0x0A || (0x20...0x7E).contains($0) })
        }
    }
}
