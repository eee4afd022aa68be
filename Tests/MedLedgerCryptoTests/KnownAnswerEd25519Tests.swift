import MedLedgerCrypto
import Testing

/// Ed25519 known answers (RFC 8032 section 7.1 and the sign.input set) and the properties that
/// MedLedger's domain-separated signatures promise.
@Suite("Known answers: Ed25519")
struct KnownAnswerEd25519Tests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let name: String
        let seed: [UInt8]
        let publicKey: [UInt8]
        let message: [UInt8]
        let signature: [UInt8]
        var testDescription: String { name }
    }

    /// RFC 8032 section 7.1: TEST 1, 2, 3, 1024 and SHA(abc).
    static func rfc8032() throws -> [Vector] {
        try KnownAnswerVectorFiles.blocks("rfc8032-ed25519.txt").map { block in
            Vector(
                name: block["NAME"], seed: block.hex("SECRET_KEY"), publicKey: block.hex("PUBLIC_KEY"),
                message: block.hex("MESSAGE"), signature: block.hex("SIGNATURE"))
        }
    }

    /// `ed25519-sign.input`, one vector a line: `seed||public : public : message : signature||message :`.
    static func signInput() throws -> [Vector] {
        try KnownAnswerVectorFiles.lines("ed25519-sign.input").enumerated().map { index, line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            precondition(fields.count == 5, "ed25519-sign.input:\(index + 1) does not have 5 fields")
            let secret = bytes(hex: fields[0])
            let message = bytes(hex: fields[2])
            let signed = bytes(hex: fields[3])
            precondition(secret.count == 64 && signed.count == 64 + message.count, "ed25519-sign.input:\(index + 1)")
            precondition(Array(signed.dropFirst(64)) == message, "ed25519-sign.input:\(index + 1): message mismatch")
            precondition(Array(secret.dropFirst(32)) == bytes(hex: fields[1]), "ed25519-sign.input:\(index + 1)")
            return Vector(
                name: "sign.input line \(index + 1) (\(message.count)-byte message)", seed: Array(secret.prefix(32)),
                publicKey: bytes(hex: fields[1]), message: message, signature: Array(signed.prefix(64)))
        }
    }

    @Test("RFC 8032 section 7.1", arguments: try rfc8032())
    func rfc8032Vector(_ vector: Vector) throws {
        try check(vector)
    }

    @Test("RFC 8032 section 7.1 has all five tests, TEST 1024 with its 1023-byte message")
    func rfc8032Complete() throws {
        let vectors = try Self.rfc8032()
        #expect(vectors.map(\.name) == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"])
        #expect(vectors.map(\.message.count) == [0, 1, 2, 1023, 64])
        // SHA(abc)'s message is SHA-512("abc"), FIPS 180-2's known answer.
        #expect(vectors[4].message == bytes(hex: """
            ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a
            2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f
            """))
    }

    @Test("sign.input (first 128 lines)", arguments: try signInput())
    func signInputVector(_ vector: Vector) throws {
        try check(vector)
    }

    @Test("sign.input holds the first 128 vectors, messages of 0 to 127 bytes")
    func signInputComplete() throws {
        let vectors = try Self.signInput()
        #expect(vectors.count == 128)
        #expect(vectors.map(\.message.count) == Array(0..<128))
    }

    /// Derives the public key from the seed, signs byte for byte, verifies, and refuses the
    /// signature for a changed message.
    private func check(_ vector: Vector) throws {
        let key = try Ed25519.PrivateKey(seed: SecureBytes(vector.seed))
        #expect(key.publicKey.bytes == vector.publicKey, "public key derived from the seed")
        let signature = key.rawSignature(for: vector.message)
        #expect(signature.bytes == vector.signature, "signature")
        let publicKey = try Ed25519.PublicKey(bytes: vector.publicKey)
        #expect(publicKey.isValidRawSignature(try Ed25519.Signature(bytes: vector.signature), for: vector.message))
        var changed = vector.message
        if changed.isEmpty { changed = [0] } else { changed[changed.count - 1] ^= 0x01 }
        #expect(!publicKey.isValidRawSignature(signature, for: changed))
    }

    // MARK: Malleability

    /// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    static let groupOrder = bytes(hex: "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

    @Test("A signature with S + L in place of S is refused (RFC 8032 section 5.1.7: S must be below L)")
    func nonCanonicalS() throws {
        let vector = try Self.rfc8032()[0]
        var signature = vector.signature
        var carry = 0
        for index in 0..<32 {
            let sum = Int(signature[32 + index]) + Int(Self.groupOrder[index]) + carry
            signature[32 + index] = UInt8(sum & 0xff)
            carry = sum >> 8
        }
        #expect(carry == 0, "S + L still fits in 256 bits for this vector")
        let publicKey = try Ed25519.PublicKey(bytes: vector.publicKey)
        #expect(!publicKey.isValidRawSignature(try Ed25519.Signature(bytes: signature), for: vector.message))
        #expect(publicKey.isValidRawSignature(try Ed25519.Signature(bytes: vector.signature), for: vector.message))
    }

    // MARK: Domain separation

    static let chainID = "medledger-test-1"
    static let message: [UInt8] = Array("consent: patient 7 grants practitioner 12 read of category lab".utf8)

    static func fixedKey() throws -> Ed25519.PrivateKey {
        try Ed25519.PrivateKey(seed: SecureBytes(bytes(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")))
    }

    @Test("A signature verifies only for its own domain and chain id")
    func domainAndChainSeparation() throws {
        let key = try Self.fixedKey()
        let domains: [SigningDomain] = [.handshake, .transaction, .proposal, .vote, .clientRequest]
        for signedDomain in domains {
            let signature = key.signature(for: signedDomain, chainID: Self.chainID, message: Self.message)
            for domain in domains {
                #expect(
                    key.publicKey.isValidSignature(signature, for: domain, chainID: Self.chainID, message: Self.message)
                        == (domain == signedDomain), "signed for \(signedDomain), checked for \(domain)")
            }
            for otherChain in ["medledger-test-2", "medledger-test-1 ", "", "MEDLEDGER-TEST-1"] {
                #expect(
                    !key.publicKey.isValidSignature(signature, for: signedDomain, chainID: otherChain, message: Self.message),
                    "signed on \(Self.chainID), checked on \(otherChain)")
            }
            // The bare message, without domain and chain id, is not what was signed.
            #expect(!key.publicKey.isValidRawSignature(signature, for: Self.message))
        }
    }

    @Test("Length prefixes keep tag, chain id and message apart")
    func boundariesDoNotShift() throws {
        let key = try Self.fixedKey()
        let signature = key.signature(for: SigningDomain(tag: "medledger/a"), chainID: "bc", message: [0x01])
        #expect(key.publicKey.isValidSignature(signature, for: SigningDomain(tag: "medledger/a"), chainID: "bc", message: [0x01]))
        #expect(!key.publicKey.isValidSignature(signature, for: SigningDomain(tag: "medledger/ab"), chainID: "c", message: [0x01]))
        #expect(!key.publicKey.isValidSignature(signature, for: SigningDomain(tag: "medledger/a"), chainID: "b", message: Array("c".utf8) + [0x01]))
    }

    @Test("A signature equals the raw signature of tag || chain id || message, as WIRE.md section 6 specifies")
    func signingInputLayout() throws {
        let key = try Self.fixedKey()
        let signature = key.signature(for: .vote, chainID: "c", message: [0xaa, 0xbb])
        let input: [UInt8] = [0, 0, 0, 17] + Array("medledger/vote/v1".utf8) + [0, 0, 0, 1, 0x63, 0xaa, 0xbb]
        #expect(SigningDomain.vote.signingInput(chainID: "c", message: [0xaa, 0xbb]) == input)
        #expect(key.rawSignature(for: input) == signature)
    }

    // MARK: Flipped bits

    @Test("Flipping any bit of the signature makes it fail")
    func flippedSignatureBit() throws {
        let key = try Self.fixedKey()
        let signature = key.signature(for: .transaction, chainID: Self.chainID, message: Self.message)
        for bit in 0..<(64 * 8) {
            var bytes = signature.bytes
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            let flipped = try Ed25519.Signature(bytes: bytes)
            #expect(
                !key.publicKey.isValidSignature(flipped, for: .transaction, chainID: Self.chainID, message: Self.message),
                "signature bit \(bit)")
        }
    }

    @Test("Flipping any bit of the message makes it fail")
    func flippedMessageBit() throws {
        let key = try Self.fixedKey()
        let signature = key.signature(for: .transaction, chainID: Self.chainID, message: Self.message)
        for bit in 0..<(Self.message.count * 8) {
            var message = Self.message
            message[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(
                !key.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: message),
                "message bit \(bit)")
        }
        #expect(!key.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message.dropLast()))
        #expect(!key.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message + [0]))
    }

    @Test("Flipping any bit of the public key makes it fail")
    func flippedKeyBit() throws {
        let key = try Self.fixedKey()
        let signature = key.signature(for: .transaction, chainID: Self.chainID, message: Self.message)
        #expect(key.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message))
        for bit in 0..<(32 * 8) {
            var bytes = key.publicKey.bytes
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            let flipped = try Ed25519.PublicKey(bytes: bytes)
            #expect(
                !flipped.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message),
                "public key bit \(bit)")
        }
    }

    @Test("Another key's signature does not verify")
    func otherKey() throws {
        let key = try Self.fixedKey()
        let other = Ed25519.PrivateKey()
        let signature = other.signature(for: .transaction, chainID: Self.chainID, message: Self.message)
        #expect(!key.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message))
        #expect(other.publicKey.isValidSignature(signature, for: .transaction, chainID: Self.chainID, message: Self.message))
    }
}
