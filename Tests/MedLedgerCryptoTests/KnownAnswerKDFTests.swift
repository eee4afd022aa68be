import MedLedgerCrypto
import Testing

/// HKDF-SHA256 (RFC 5869 appendix A.1-A.3), HMAC-SHA256 through HKDF-Extract, and scrypt (RFC 7914 section 12).
@Suite("Known answers: HKDF and scrypt")
struct KnownAnswerKDFTests {
    struct HKDFVector: CustomTestStringConvertible, Sendable {
        let block: VectorBlock
        var testDescription: String { "RFC 5869 test case \(block["COUNT"]) (\(block.location))" }
    }

    static func hkdfVectors() throws -> [HKDFVector] {
        try KnownAnswerVectorFiles.blocks("rfc-5869-HKDF-SHA256.txt", startKey: "COUNT").map(HKDFVector.init)
    }

    @Test("RFC 5869 test cases 1-3 (SHA-256): extract, expand, and both at once", arguments: try hkdfVectors())
    func hkdf(_ vector: HKDFVector) throws {
        let block = vector.block
        #expect(block["Hash"] == "SHA-256")
        let ikm = block.hex("IKM")
        let salt = block.hex("salt")
        let info = block.hex("info")
        let length = block.integer("L")
        let prk = HKDF.extract(salt: salt, inputKeyMaterial: ikm)
        #expect(prk.unprotectedBytes == block.hex("PRK"))
        // HKDF-Extract is HMAC-SHA256 keyed with the salt (RFC 5869 section 2.2).
        if !salt.isEmpty {
            #expect(HMACSHA256.authenticationCode(key: salt, message: ikm) == block.hex("PRK"))
        }
        let okm = try HKDF.expand(pseudorandomKey: prk, info: info, length: length)
        #expect(okm.unprotectedBytes == block.hex("OKM"))
        let derived = try HKDF.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, length: length)
        #expect(derived.unprotectedBytes == block.hex("OKM"))
        // A shorter output is a prefix of the longer one.
        let prefix = try HKDF.expand(pseudorandomKey: prk, info: info, length: 7)
        #expect(prefix.unprotectedBytes == Array(block.hex("OKM").prefix(7)))
    }

    @Test("The HKDF file holds test cases 1, 2 and 3")
    func hkdfComplete() throws {
        #expect(try Self.hkdfVectors().map { $0.block["COUNT"] } == ["1", "2", "3"])
    }

    @Test("HKDF-Expand refuses more than 255 blocks and negative lengths")
    func hkdfLimits() throws {
        let prk = HKDF.extract(salt: [1], inputKeyMaterial: [2])
        #expect(try HKDF.expand(pseudorandomKey: prk, info: [], length: 255 * 32).count == 255 * 32)
        for length in [255 * 32 + 1, -1] {
            let error = try #require(throws: CryptoError.self) { try HKDF.expand(pseudorandomKey: prk, info: [], length: length) }
            #expect(error.code == .invalidLength)
        }
    }

    // MARK: scrypt

    struct ScryptVector: CustomTestStringConvertible, Sendable {
        let block: VectorBlock
        var parameters: Scrypt.Parameters {
            Scrypt.Parameters(n: UInt64(block.integer("N")), r: UInt32(block.integer("r")), p: UInt32(block.integer("p")))
        }
        /// 128 * N * r bytes: the memory scrypt needs.
        var memory: UInt64 { 128 * parameters.n * UInt64(parameters.r) }
        var testDescription: String {
            "RFC 7914 N=\(block["N"]) r=\(block["r"]) p=\(block["p"]) (\(block.location))"
        }
    }

    static func scryptVectors() throws -> [ScryptVector] {
        try KnownAnswerVectorFiles.blocks("scrypt.txt").map(ScryptVector.init)
    }

    /// The vectors needing at most 16 MiB; the N = 1,048,576 vector needs 1 GiB and runs only
    /// with MEDLEDGER_SLOW_KATS=1.
    static func smallScryptVectors() throws -> [ScryptVector] {
        try scryptVectors().filter { $0.memory <= 16 << 20 }
    }

    static func largeScryptVectors() throws -> [ScryptVector] {
        try scryptVectors().filter { $0.memory > 16 << 20 }
    }

    @Test("RFC 7914 section 12 (the three small vectors)", arguments: try smallScryptVectors())
    func scrypt(_ vector: ScryptVector) throws {
        try check(vector)
    }

    @Test(
        "RFC 7914 section 12, N = 1,048,576 (1 GiB; MEDLEDGER_SLOW_KATS=1)",
        .enabled(if: KnownAnswerVectorFiles.slowVectorsEnabled, "needs 1 GiB: set MEDLEDGER_SLOW_KATS=1 to run it"),
        arguments: try largeScryptVectors())
    func scryptLarge(_ vector: ScryptVector) throws {
        try check(vector)
    }

    @Test("The scrypt file holds RFC 7914's four vectors, three of them small")
    func scryptComplete() throws {
        #expect(try Self.scryptVectors().count == 4)
        #expect(try Self.smallScryptVectors().count == 3)
    }

    private func check(_ vector: ScryptVector) throws {
        let block = vector.block
        let derived = try Scrypt.deriveKey(
            passphrase: SecureBytes(Array(block["PASSWORD"].utf8)), salt: Array(block["SALT"].utf8),
            parameters: vector.parameters, length: block.integer("LENGTH"))
        #expect(derived.unprotectedBytes == block.hex("DERIVED_KEY"))
    }

    @Test("scrypt refuses N that is not a power of two above 1, and r or p of 0")
    func scryptRefusesBadParameters() throws {
        for parameters in [
            Scrypt.Parameters(n: 0, r: 8, p: 1), Scrypt.Parameters(n: 1, r: 8, p: 1), Scrypt.Parameters(n: 1000, r: 8, p: 1),
            Scrypt.Parameters(n: 16, r: 0, p: 1), Scrypt.Parameters(n: 16, r: 1, p: 0),
        ] {
            let error = try #require(throws: CryptoError.self) {
                try Scrypt.deriveKey(passphrase: SecureBytes([1]), salt: [2], parameters: parameters, length: 32)
            }
            #expect(error.code == .invalidLength, "\(parameters)")
        }
    }
}
