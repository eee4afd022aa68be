import MedLedgerCrypto
import Testing

/// AES-128-GCM and AES-256-GCM against NIST's CAVS 14.0 GCM vectors (gcmEncryptExtIV and
/// gcmDecrypt), trimmed to 96-bit IVs and 128-bit tags (the only sizes MedLedger uses).
@Suite("Known answers: AES-GCM (NIST CAVS)")
struct KnownAnswerAESGCMTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let block: VectorBlock
        var keyBits: Int { Int(block.section["Keylen"] ?? "") ?? 0 }
        var shouldFail: Bool { block.flags.contains("FAIL") }
        var testDescription: String {
            let section = ["PTlen", "AADlen"].map { "\($0)=\(block.section[$0] ?? "?")" }.joined(separator: " ")
            return "\(block.location) Count=\(block["Count"]) \(section)\(shouldFail ? " FAIL" : "")"
        }
    }

    static let encryptFiles = ["gcmEncryptExtIV128.rsp", "gcmEncryptExtIV256.rsp"]
    static let decryptFiles = ["gcmDecrypt128.rsp", "gcmDecrypt256.rsp"]

    static func vectors(_ files: [String]) throws -> [Vector] {
        try files.flatMap { try KnownAnswerVectorFiles.blocks($0) }.map(Vector.init)
    }

    @Test("NIST GCM encryption (gcmEncryptExtIV128/256)", arguments: try vectors(encryptFiles))
    func encrypt(_ vector: Vector) throws {
        let block = vector.block
        #expect(block.section["IVlen"] == "96" && block.section["Taglen"] == "128")
        let expected = block.hex("CT") + block.hex("Tag")
        let sealed = try seal(keyBits: vector.keyBits, key: block.hex("Key"), nonce: block.hex("IV"), plaintext: block.hex("PT"), aad: block.hex("AAD"))
        #expect(sealed == expected)
        let opened = try open(keyBits: vector.keyBits, key: block.hex("Key"), nonce: block.hex("IV"), sealed: expected, aad: block.hex("AAD"))
        #expect(opened == block.hex("PT"))
    }

    @Test("NIST GCM decryption (gcmDecrypt128/256), including the FAIL cases", arguments: try vectors(decryptFiles))
    func decrypt(_ vector: Vector) throws {
        let block = vector.block
        #expect(block.section["IVlen"] == "96" && block.section["Taglen"] == "128")
        let sealed = block.hex("CT") + block.hex("Tag")
        if vector.shouldFail {
            let error = try #require(throws: CryptoError.self) {
                try open(keyBits: vector.keyBits, key: block.hex("Key"), nonce: block.hex("IV"), sealed: sealed, aad: block.hex("AAD"))
            }
            #expect(error.code == .authenticationFailed)
        } else {
            let opened = try open(keyBits: vector.keyBits, key: block.hex("Key"), nonce: block.hex("IV"), sealed: sealed, aad: block.hex("AAD"))
            #expect(opened == block.hex("PT"))
        }
    }

    @Test("The trimmed GCM files cover every PTlen x AADlen section, empty plaintexts, AAD-only cases and FAIL cases")
    func coverage() throws {
        for file in Self.encryptFiles + Self.decryptFiles {
            let vectors = try Self.vectors([file])
            let sections = Set(vectors.map { "\($0.block.section["PTlen"] ?? "")/\($0.block.section["AADlen"] ?? "")" })
            #expect(sections.count == 25, "\(file): 5 plaintext lengths x 5 AAD lengths")
            #expect(vectors.contains { $0.block["PT", default: ""].isEmpty && $0.block["AAD", default: ""].isEmpty }, "\(file): empty")
            #expect(vectors.contains { $0.block["CT"].isEmpty && !$0.block["AAD"].isEmpty }, "\(file): AAD only")
            if Self.decryptFiles.contains(file) {
                #expect(vectors.filter(\.shouldFail).count == 50, "\(file): two FAIL cases a section")
                #expect(vectors.filter { !$0.shouldFail }.count == 50, "\(file): two passing cases a section")
            } else {
                #expect(vectors.count == 75, "\(file): three cases a section")
            }
        }
    }

    @Test("Changing any part of a sealed NIST vector fails to open", arguments: [128, 256])
    func tampering(_ keyBits: Int) throws {
        // A case with plaintext and AAD: the first of PTlen=128, AADlen=128.
        let file = keyBits == 128 ? "gcmEncryptExtIV128.rsp" : "gcmEncryptExtIV256.rsp"
        let vector = try #require(try Self.vectors([file]).first { $0.block.section["PTlen"] == "128" && $0.block.section["AADlen"] == "128" })
        let block = vector.block
        let key = block.hex("Key"), nonce = block.hex("IV"), aad = block.hex("AAD")
        let sealed = block.hex("CT") + block.hex("Tag")
        func fails(key: [UInt8], nonce: [UInt8], sealed: [UInt8], aad: [UInt8]) -> Bool {
            do {
                _ = try open(keyBits: keyBits, key: key, nonce: nonce, sealed: sealed, aad: aad)
                return false
            } catch let error as CryptoError {
                return error.code == .authenticationFailed
            } catch {
                return false
            }
        }
        for index in sealed.indices {
            var changed = sealed
            changed[index] ^= 0x80
            #expect(fails(key: key, nonce: nonce, sealed: changed, aad: aad), "sealed byte \(index)")
        }
        for index in aad.indices {
            var changed = aad
            changed[index] ^= 0x01
            #expect(fails(key: key, nonce: nonce, sealed: sealed, aad: changed), "AAD byte \(index)")
        }
        var otherNonce = nonce
        otherNonce[11] ^= 0x01
        #expect(fails(key: key, nonce: otherNonce, sealed: sealed, aad: aad), "nonce")
        var otherKey = key
        otherKey[0] ^= 0x01
        #expect(fails(key: otherKey, nonce: nonce, sealed: sealed, aad: aad), "key")
        #expect(fails(key: key, nonce: nonce, sealed: Array(sealed.dropLast()), aad: aad), "truncated")
        #expect(fails(key: key, nonce: nonce, sealed: sealed + [0], aad: aad), "extended")
        #expect(fails(key: key, nonce: nonce, sealed: Array(sealed.prefix(15)), aad: aad), "shorter than a tag")
    }

    private func seal(keyBits: Int, key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        switch keyBits {
        case 128: try AES128GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        case 256: try AES256GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        default: preconditionFailure("no AES-\(keyBits)-GCM here")
        }
    }

    private func open(keyBits: Int, key: [UInt8], nonce: [UInt8], sealed: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        switch keyBits {
        case 128: try AES128GCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: aad)
        case 256: try AES256GCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: aad)
        default: preconditionFailure("no AES-\(keyBits)-GCM here")
        }
    }
}

extension VectorBlock {
    subscript(_ key: String, default defaultValue: String) -> String { fields[key] ?? defaultValue }
}
