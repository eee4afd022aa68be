import Foundation
import MedLedgerCrypto
import Testing

/// The key file format in memory (Protocol/KEYS.md sections 2, 3 and 6): round trips, tampering,
/// truncation, malformed files with line numbers, and secrets kept out of text.
@Suite("Key files: format")
struct KeyFileFormatTests {
    typealias Support = KeyFileTestSupport

    struct Case: CustomTestStringConvertible, Sendable {
        let type: KeyFile.KeyType
        let sealed: Bool
        let comment: String?
        var testDescription: String { "\(type), \(sealed ? "sealed" : "plain")\(comment == nil ? "" : ", with comment")" }
    }

    static let cases: [Case] = KeyFile.KeyType.allCases.flatMap { type in
        [false, true].flatMap { sealed in [nil, "facility node key"].map { Case(type: type, sealed: sealed, comment: $0) } }
    }

    static func protection(_ sealed: Bool) -> KeyFile.Protection {
        sealed ? .passphrase(Support.passphrase, parameters: Support.light) : .none
    }

    static func encoded(_ type: KeyFile.KeyType, sealed: Bool, comment: String? = nil) throws -> [UInt8] {
        try KeyFile.encode(Support.key(type), protection: protection(sealed), comment: comment).unprotectedBytes
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("Round trip in memory", arguments: cases)
    func roundTrip(_ testCase: Case) throws {
        let key = try Support.key(testCase.type)
        let bytes = try Self.encoded(testCase.type, sealed: testCase.sealed, comment: testCase.comment)
        let decoded = try KeyFile.decode(bytes, passphrase: testCase.sealed ? Support.passphrase : nil)
        #expect(decoded.type == testCase.type)
        #expect(decoded.publicKeyBytes == key.publicKeyBytes)
        #expect(Support.secretHex(decoded) == Support.secretHex(key))

        let header = try KeyFile.decodeHeader(bytes)
        #expect(header.type == testCase.type)
        #expect(header.publicKey == key.publicKeyBytes)
        #expect(header.comment == testCase.comment)
        #expect(header.isEncrypted == testCase.sealed)
        #expect(header.encryption == (testCase.sealed ? .scryptAES256GCM(Support.light) : .none))

        // The layout of KEYS.md section 2, line by line.
        let lines = Self.text(bytes).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "ends with a line feed")
        var names = ["MEDLEDGER-KEY-V1", "type", "public"] + (testCase.comment == nil ? [] : ["comment"]) + ["encryption"]
        names += testCase.sealed ? ["scrypt-n", "scrypt-r", "scrypt-p", "salt", "nonce", "sealed-private"] : ["private"]
        #expect(lines.dropLast().map { $0.split(separator: ":").first.map(String.init) ?? "" } == names)
        let secret = Support.secretHex(key)
        #expect(Self.text(bytes).contains(secret) == !testCase.sealed, "the private key appears in plain files only")
    }

    @Test("Sealing twice gives different salts, nonces and seals")
    func freshSaltAndNonce() throws {
        let a = Self.text(try Self.encoded(.ed25519, sealed: true))
        let b = Self.text(try Self.encoded(.ed25519, sealed: true))
        func value(_ name: String, _ text: String) -> Substring? {
            text.split(separator: "\n").first { $0.hasPrefix(name + ": ") }
        }
        for name in ["salt", "nonce", "sealed-private"] {
            #expect(value(name, a) != nil && value(name, a) != value(name, b), "\(name)")
        }
    }

    @Test("The default scrypt parameters are N = 2^17, r = 8, p = 1")
    func defaultParameters() throws {
        let bytes = try KeyFile.encode(Support.key(.x25519), protection: .passphrase(Support.passphrase)).unprotectedBytes
        #expect(try KeyFile.decodeHeader(bytes).encryption == .scryptAES256GCM(Scrypt.Parameters(n: 1 << 17, r: 8, p: 1)))
        #expect(Self.text(bytes).contains("scrypt-n: 131072\nscrypt-r: 8\nscrypt-p: 1\n"))
    }

    // MARK: Passphrases

    @Test("A wrong passphrase gives a clear error", arguments: KeyFile.KeyType.allCases)
    func wrongPassphrase(_ type: KeyFile.KeyType) throws {
        let bytes = try Self.encoded(type, sealed: true)
        for wrong in ["correct horse battery stapler", "Correct horse battery staple", "x"] {
            let error = Support.keyFileError {
                _ = try KeyFile.decode(bytes, passphrase: SecureBytes(Array(wrong.utf8)), source: "alice.key")
            }
            #expect(error?.message.hasPrefix("alice.key: wrong passphrase, or the file was changed") == true, "\(String(describing: error))")
        }
    }

    @Test("A sealed file read without a passphrase says that one is needed")
    func missingPassphrase() throws {
        let bytes = try Self.encoded(.ed25519, sealed: true)
        let error = Support.keyFileError { _ = try KeyFile.decode(bytes, source: "bob.key") }
        #expect(error?.message.contains("bob.key is sealed with a passphrase") == true)
    }

    @Test("A passphrase given for a plain file is ignored")
    func passphraseForPlainFile() throws {
        let bytes = try Self.encoded(.x25519, sealed: false)
        #expect(try KeyFile.decode(bytes, passphrase: Support.passphrase).publicKeyBytes == Support.key(.x25519).publicKeyBytes)
    }

    @Test("Writing refuses an empty passphrase, a bad comment and out-of-bounds scrypt parameters")
    func writerRefuses() throws {
        let key = try Support.key(.ed25519)
        let empty = Support.keyFileError { _ = try KeyFile.encode(key, protection: .passphrase(SecureBytes([]), parameters: Support.light)) }
        #expect(empty?.message.contains("empty passphrase") == true)
        for comment in ["", " leading", "trailing ", "tab\there", "new\nline", "caf\u{e9}", String(repeating: "x", count: 129)] {
            let error = Support.keyFileError { _ = try KeyFile.encode(key, comment: comment) }
            #expect(error?.message.contains("comment") == true, "\(comment.debugDescription)")
        }
        #expect(try KeyFile.decodeHeader(KeyFile.encode(key, comment: String(repeating: "x", count: 128)).unprotectedBytes).comment?.count == 128)
        for parameters in [
            Scrypt.Parameters(n: 1 << 21, r: 8, p: 1), Scrypt.Parameters(n: 1000, r: 8, p: 1), Scrypt.Parameters(n: 1, r: 8, p: 1),
            Scrypt.Parameters(n: 1 << 20, r: 16, p: 1), Scrypt.Parameters(n: 16, r: 33, p: 1), Scrypt.Parameters(n: 16, r: 1, p: 17),
            Scrypt.Parameters(n: 16, r: 0, p: 1), Scrypt.Parameters(n: 16, r: 1, p: 0),
        ] {
            let error = Support.keyFileError {
                _ = try KeyFile.encode(key, protection: .passphrase(Support.passphrase, parameters: parameters))
            }
            #expect(error?.message.contains("scrypt") == true, "\(parameters)")
        }
    }

    // MARK: Tampering

    /// `bytes` with the value of field `name` replaced.
    static func replacing(_ name: String, with value: String, in bytes: [UInt8]) -> [UInt8] {
        let lines = text(bytes).split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(name + ": ") ? "\(name): \(value)" : String(line)
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    static func value(_ name: String, in bytes: [UInt8]) -> String {
        let line = text(bytes).split(separator: "\n").first { $0.hasPrefix(name + ": ") }!
        return String(line.dropFirst(name.count + 2))
    }

    static func flippingLastDigit(_ hex: String) -> String {
        String(hex.dropLast()) + (hex.last == "0" ? "1" : "0")
    }

    @Test("Sealed files: changing any header line makes the tag fail", arguments: KeyFile.KeyType.allCases)
    func sealedHeaderTampering(_ type: KeyFile.KeyType) throws {
        let bytes = try Self.encoded(type, sealed: true, comment: "practitioner key")
        let otherPublic = type == .ed25519
            ? Ed25519.PrivateKey().publicKey.bytes : X25519.PrivateKey().publicKey.bytes
        let otherType = type == .ed25519 ? "x25519" : "ed25519"
        let changes: [(String, String)] = [
            ("public", otherPublic.map { String(format: "%02x", $0) }.joined()),
            ("type", otherType),
            ("comment", "practitioner kez"),
            ("scrypt-n", "512"), ("scrypt-r", "4"), ("scrypt-p", "2"),
            ("salt", Self.flippingLastDigit(Self.value("salt", in: bytes))),
            ("nonce", Self.flippingLastDigit(Self.value("nonce", in: bytes))),
            ("sealed-private", Self.flippingLastDigit(Self.value("sealed-private", in: bytes))),
        ]
        for (name, value) in changes {
            let tampered = Self.replacing(name, with: value, in: bytes)
            #expect(tampered != bytes)
            let error = Support.keyFileError { _ = try KeyFile.decode(tampered, passphrase: Support.passphrase) }
            #expect(error?.message.contains("wrong passphrase, or the file was changed") == true, "\(name): \(String(describing: error))")
        }
        // Removing the comment line changes the associated data too.
        let withoutComment = Array(Self.text(bytes).replacingOccurrences(of: "comment: practitioner key\n", with: "").utf8)
        let error = Support.keyFileError { _ = try KeyFile.decode(withoutComment, passphrase: Support.passphrase) }
        #expect(error?.message.contains("wrong passphrase, or the file was changed") == true)
    }

    @Test("Plain files: a public key that does not belong to the private key is refused", arguments: KeyFile.KeyType.allCases)
    func plainPublicKeyMismatch(_ type: KeyFile.KeyType) throws {
        let bytes = try Self.encoded(type, sealed: false)
        let otherPublic = type == .ed25519
            ? Ed25519.PrivateKey().publicKey.bytes : X25519.PrivateKey().publicKey.bytes
        for tampered in [
            Self.replacing("public", with: otherPublic.map { String(format: "%02x", $0) }.joined(), in: bytes),
            Self.replacing("public", with: Self.flippingLastDigit(Self.value("public", in: bytes)), in: bytes),
            Self.replacing("private", with: Self.flippingLastDigit(Self.value("private", in: bytes)), in: bytes),
            Self.replacing("type", with: type == .ed25519 ? "x25519" : "ed25519", in: bytes),
        ] {
            let error = Support.keyFileError { _ = try KeyFile.decode(tampered, source: "node.key") }
            #expect(error?.message.contains("node.key: line 3: the public key does not belong to the private key") == true, "\(String(describing: error))")
        }
    }

    // MARK: Truncation and malformed files

    @Test("Every truncation of a key file is refused as malformed", arguments: [false, true])
    func truncated(_ sealed: Bool) throws {
        let bytes = try Self.encoded(.ed25519, sealed: sealed, comment: "c")
        for length in 0..<bytes.count {
            let error = Support.keyFileError {
                _ = try KeyFile.decode(bytes.prefix(length), passphrase: Support.passphrase, source: "k.key")
            }
            #expect(error?.message.hasPrefix("k.key: ") == true)
            #expect(error?.message.contains("wrong passphrase") == false, "length \(length) must fail before the seal")
        }
        #expect(Support.keyFileError { _ = try KeyFile.decode([UInt8](), source: "k.key") }?.message.contains("empty") == true)
    }

    struct Malformation: CustomTestStringConvertible, Sendable {
        let name: String
        let change: @Sendable (String) -> String
        let line: Int?
        let says: String
        var testDescription: String { name }
    }

    /// `text` with `edit` applied to the value of field `name`.
    static func editLine(_ text: String, _ name: String, _ edit: (String) -> String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(name + ": ") ? "\(name): " + edit(String(line.dropFirst(name.count + 2))) : String(line)
        }.joined(separator: "\n")
    }

    /// A plain ed25519 file with a comment (lines: 1 magic, 2 type, 3 public, 4 comment,
    /// 5 encryption, 6 private) and a sealed one (5 encryption, 6-8 scrypt, 9 salt, 10 nonce, 11 sealed).
    static let malformations: [Malformation] = [
        Malformation(name: "CR LF line ends", change: { $0.replacingOccurrences(of: "\n", with: "\r\n") }, line: 1, says: "carriage return"),
        Malformation(name: "no final line feed", change: { String($0.dropLast()) }, line: 6, says: "not ended by a line feed"),
        Malformation(name: "an extra blank line", change: { $0 + "\n" }, line: 7, says: "unexpected line"),
        Malformation(name: "an extra field", change: { $0 + "extra: 1\n" }, line: 7, says: "unexpected line"),
        Malformation(name: "wrong magic", change: { "X" + $0.dropFirst() }, line: 1, says: "not a MedLedger key file"),
        Malformation(name: "a newer version", change: { $0.replacingOccurrences(of: "KEY-V1", with: "KEY-V2") }, line: 1, says: "upgrade MedLedger"),
        Malformation(name: "a PEM file", change: { _ in "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n" }, line: 1, says: "PEM"),
        Malformation(name: "unknown type", change: { $0.replacingOccurrences(of: "type: ed25519", with: "type: rsa") }, line: 2, says: "unknown key type \"rsa\""),
        Malformation(name: "uppercase hex", change: { $0.replacingOccurrences(of: "public: d75a", with: "public: D75A") }, line: 3, says: "lowercase hex"),
        Malformation(name: "short public key", change: { $0.replacingOccurrences(of: "public: d75a", with: "public: d7") }, line: 3, says: "64 lowercase hex digits"),
        Malformation(name: "no space after the colon", change: { $0.replacingOccurrences(of: "public: ", with: "public:") }, line: 3, says: "expected \"public: \""),
        Malformation(name: "two spaces after the colon", change: { $0.replacingOccurrences(of: "type: ", with: "type:  ") }, line: 2, says: "unknown key type (not shown)"),
        Malformation(name: "the private key where the type goes", change: { editLine($0, "type") { _ in "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60" } }, line: 2, says: "unknown key type (not shown)"),
        Malformation(name: "a hex line with a colon where a field goes", change: { editLine($0, "public") { _ in "" }.replacingOccurrences(of: "public: ", with: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60: ") }, line: 3, says: "found another line"),
        Malformation(name: "a line without a colon", change: { $0.replacingOccurrences(of: "public: ", with: "public ") }, line: 3, says: "without a \"name: value\" field"),
        Malformation(name: "no space after the colon, no value", change: { editLine($0, "public") { _ in "" }.replacingOccurrences(of: "public: ", with: "public:") }, line: 3, says: "a colon, then exactly one space"),
        Malformation(name: "uppercase field name", change: { $0.replacingOccurrences(of: "type: ", with: "Type: ") }, line: 2, says: "expected \"type: \""),
        Malformation(name: "fields out of order", change: { $0.replacingOccurrences(of: "type: ed25519\n", with: "").replacingOccurrences(of: "encryption: none\n", with: "encryption: none\ntype: ed25519\n") }, line: 2, says: "expected \"type: \""),
        Malformation(name: "comment with a trailing space", change: { $0.replacingOccurrences(of: "comment: c", with: "comment: c ") }, line: 4, says: "comment"),
        Malformation(name: "empty comment", change: { $0.replacingOccurrences(of: "comment: c", with: "comment: ") }, line: 4, says: "comment"),
        Malformation(name: "unknown encryption", change: { $0.replacingOccurrences(of: "encryption: none", with: "encryption: rot13") }, line: 5, says: "unknown encryption \"rot13\""),
        Malformation(name: "missing private line", change: { $0.split(separator: "\n").dropLast().joined(separator: "\n") + "\n" }, line: nil, says: "truncated"),
        Malformation(name: "a tab", change: { $0.replacingOccurrences(of: "comment: c", with: "comment:\tc") }, line: 4, says: "not printable ASCII"),
        Malformation(name: "a NUL byte", change: { $0.replacingOccurrences(of: "comment: c", with: "comment: c\u{0}") }, line: 4, says: "not printable ASCII"),
        Malformation(name: "UTF-8 in the comment", change: { $0.replacingOccurrences(of: "comment: c", with: "comment: caf\u{e9}") }, line: 4, says: "not printable ASCII"),
        Malformation(name: "a byte order mark", change: { "\u{feff}" + $0 }, line: 1, says: "not printable ASCII"),
    ]

    @Test("Malformed plain files are refused with their line number", arguments: malformations)
    func malformedPlain(_ malformation: Malformation) throws {
        let good = Self.text(try Self.encoded(.ed25519, sealed: false, comment: "c"))
        let bad = Array(malformation.change(good).utf8)
        #expect(bad != Array(good.utf8))
        let error = Support.keyFileError { _ = try KeyFile.decode(bad, source: "node.key") }
        let message = error?.message ?? ""
        if let line = malformation.line {
            #expect(message.hasPrefix("node.key: line \(line): "), "\(message)")
        }
        #expect(message.contains(malformation.says), "\(message)")
        // Never the private key, whole or in part.
        #expect(!message.contains("9d61b19d"), "\(message)")
    }

    static let sealedMalformations: [Malformation] = [
        Malformation(name: "N not a power of two", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 1000") }, line: 6, says: "power of two"),
        Malformation(name: "N too large", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 2097152") }, line: 6, says: "power of two"),
        Malformation(name: "N with a leading zero", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 01024") }, line: 6, says: "without leading zeros"),
        Malformation(name: "N as hex", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 0x400") }, line: 6, says: "decimal"),
        Malformation(name: "N huge", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 99999999999999999999999") }, line: 6, says: "decimal"),
        Malformation(name: "N = 2^62", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 4611686018427387904") }, line: 6, says: "power of two"),
        Malformation(name: "r zero", change: { $0.replacingOccurrences(of: "scrypt-r: 8", with: "scrypt-r: 0") }, line: 7, says: "scrypt r"),
        Malformation(name: "r too large for N (over 1 GiB)", change: { $0.replacingOccurrences(of: "scrypt-n: 1024", with: "scrypt-n: 1048576").replacingOccurrences(of: "scrypt-r: 8", with: "scrypt-r: 16") }, line: 7, says: "1 GiB"),
        Malformation(name: "p too large", change: { $0.replacingOccurrences(of: "scrypt-p: 1", with: "scrypt-p: 17") }, line: 8, says: "scrypt p"),
        Malformation(name: "p beyond 32 bits", change: { $0.replacingOccurrences(of: "scrypt-p: 1", with: "scrypt-p: 4294967297") }, line: 8, says: "scrypt"),
        Malformation(name: "short salt", change: { editLine($0, "salt") { String($0.dropLast(2)) } }, line: 9, says: "the salt must be 64"),
        Malformation(name: "non-hex salt", change: { editLine($0, "salt") { String($0.dropLast()) + "g" } }, line: 9, says: "the salt must be 64 lowercase hex digits (0-9, a-f)"),
        Malformation(name: "long nonce", change: { $0.replacingOccurrences(of: "\nsealed-private", with: "00\nsealed-private") }, line: 10, says: "the nonce must be 24"),
        Malformation(name: "short seal", change: { String($0.dropLast(3)) + "\n" }, line: 11, says: "sealed private key must be 96"),
        Malformation(name: "a private line in a sealed file", change: { $0 + "private: 00\n" }, line: 12, says: "unexpected line"),
        Malformation(name: "scrypt parameters missing", change: { $0.replacingOccurrences(of: "scrypt-r: 8\n", with: "") }, line: 7, says: "expected \"scrypt-r: \""),
    ]

    @Test("Malformed sealed files are refused with their line number, before scrypt runs", arguments: sealedMalformations)
    func malformedSealed(_ malformation: Malformation) throws {
        let good = Self.text(try Self.encoded(.ed25519, sealed: true, comment: "c"))
        let bad = Array(malformation.change(good).utf8)
        #expect(bad != Array(good.utf8))
        let error = Support.keyFileError { _ = try KeyFile.decode(bad, passphrase: Support.passphrase, source: "carried.key") }
        let message = error?.message ?? ""
        if let line = malformation.line {
            #expect(message.hasPrefix("carried.key: line \(line): "), "\(message)")
        }
        #expect(message.contains(malformation.says), "\(message)")
    }

    @Test("A file over 4096 bytes is refused before parsing")
    func oversized() throws {
        let good = try Self.encoded(.ed25519, sealed: false)
        let error = Support.keyFileError { _ = try KeyFile.decode(good + [UInt8](repeating: 0x41, count: 4097 - good.count)) }
        #expect(error?.message.contains("at most 4096") == true)
    }

    // MARK: Secrets stay out of text

    @Test("Descriptions and errors never show private key bytes or the passphrase", arguments: KeyFile.KeyType.allCases)
    func redaction(_ type: KeyFile.KeyType) throws {
        let key = try Support.key(type)
        let secret = Support.secretHex(key)
        let protection = KeyFile.Protection.passphrase(Support.passphrase, parameters: Support.light)
        let plain = try Self.encoded(type, sealed: false)
        let texts: [String] = [
            String(describing: key), String(reflecting: key), "\(key)",
            String(describing: protection), String(reflecting: protection),
            String(describing: try KeyFile.decodeHeader(plain)),
            String(describing: try KeyFile.encode(key)),
            String(describing: try KeyFile.decode(plain)),
            String(describing: Support.keyFileError { _ = try KeyFile.decode(Self.replacing("public", with: String(repeating: "0", count: 64), in: plain)) }),
            String(describing: Support.keyFileError { _ = try KeyFile.decode(Self.replacing("private", with: String(secret.dropLast()) + "G", in: plain)) }),
            String(describing: Support.keyFileError { _ = try KeyFile.decode(Self.replacing("private", with: secret + "0", in: plain)) }),
        ]
        for text in texts {
            #expect(!text.contains(secret), "\(text)")
            #expect(!text.contains(secret.prefix(16)), "\(text)")
            #expect(!text.contains("correct horse"), "\(text)")
        }
        #expect(String(describing: key).contains("public:"))
        #expect(String(describing: protection).contains("redacted"))
    }
}
