import MedLedgerCrypto
import Testing

/// X25519 known answers (RFC 7748 sections 5.2 and 6.1) and the refusal of low-order points.
@Suite("Known answers: X25519")
struct KnownAnswerX25519Tests {
    struct FunctionVector: CustomTestStringConvertible, Sendable {
        let location: String
        let scalar: [UInt8]
        let u: [UInt8]
        let output: [UInt8]
        var testDescription: String { location }
    }

    /// `x25519-rfc7748.txt`: the two function vectors of section 5.2, and the first iteration.
    static func functionVectors() throws -> [FunctionVector] {
        try KnownAnswerVectorFiles.blocks("x25519-rfc7748.txt").map { block in
            FunctionVector(
                location: "\(block.location) (COUNT = \(block["COUNT"]))", scalar: block.hex("INPUT_SCALAR"),
                u: block.hex("INPUT_U"), output: block.hex("OUTPUT_U"))
        }
    }

    static func typedBlocks() throws -> [VectorBlock] {
        try KnownAnswerVectorFiles.blocks("x25519-rfc7748-iterated-dh.txt")
    }

    @Test("RFC 7748 section 5.2 function vectors", arguments: try functionVectors())
    func functionVector(_ vector: FunctionVector) throws {
        #expect(try x25519(vector.scalar, vector.u) == vector.output)
    }

    @Test("x25519-rfc7748.txt holds the two function vectors and the one-iteration loop")
    func functionVectorsComplete() throws {
        #expect(try Self.functionVectors().count == 3)
    }

    /// RFC 7748 section 5.2's loop: `(k, u) = (X25519(k, u), k)`, from `k = u = 9`; checks every
    /// listed iteration count up to `limit` on the way.
    private func iterate(upTo limit: Int) throws {
        let expected = try Self.typedBlocks().filter { $0.fields["ITERATIONS"] != nil }
            .map { ($0.integer("ITERATIONS"), $0.hex("OUTPUT_K")) }
            .filter { $0.0 <= limit }
        #expect(!expected.isEmpty)
        var k: [UInt8] = [9] + [UInt8](repeating: 0, count: 31)
        var u = k
        var done = 0
        for (iterations, output) in expected {
            while done < iterations {
                (k, u) = (try x25519(k, u), k)
                done += 1
            }
            #expect(k == output, "after \(iterations) iterations")
        }
    }

    @Test("RFC 7748 section 5.2 loop: after 1 and 1,000 iterations")
    func loopThousand() throws {
        try iterate(upTo: 1000)
    }

    @Test(
        "RFC 7748 section 5.2 loop: after 1,000,000 iterations (about a minute; MEDLEDGER_SLOW_KATS=1)",
        .enabled(if: KnownAnswerVectorFiles.slowVectorsEnabled, "slow: set MEDLEDGER_SLOW_KATS=1 to run it"))
    func loopMillion() throws {
        try iterate(upTo: 1_000_000)
    }

    @Test("RFC 7748 section 6.1: Alice's and Bob's keys and their shared secret")
    func aliceAndBob() throws {
        guard let block = try Self.typedBlocks().first(where: { $0.fields["ALICE_PRIVATE"] != nil }) else {
            Issue.record("x25519-rfc7748-iterated-dh.txt lacks the section 6.1 block")
            return
        }
        let alice = try X25519.PrivateKey(rawKey: SecureBytes(block.hex("ALICE_PRIVATE")))
        let bob = try X25519.PrivateKey(rawKey: SecureBytes(block.hex("BOB_PRIVATE")))
        #expect(alice.publicKey.bytes == block.hex("ALICE_PUBLIC"))
        #expect(bob.publicKey.bytes == block.hex("BOB_PUBLIC"))
        let aliceShared = try alice.sharedSecret(with: bob.publicKey)
        let bobShared = try bob.sharedSecret(with: alice.publicKey)
        #expect(aliceShared.unprotectedBytes == block.hex("SHARED_SECRET"))
        #expect(bobShared.unprotectedBytes == block.hex("SHARED_SECRET"))
        #expect(aliceShared.constantTimeEquals(bobShared))
    }

    // MARK: Low-order points

    struct LowOrderPoint: CustomTestStringConvertible, Sendable {
        let name: String
        let u: String
        var testDescription: String { name }
    }

    /// u-coordinates whose X25519 with any clamped scalar is all zeros: the points of order 1, 2,
    /// 4 and 8 (and their non-canonical encodings, u + p, and forms with the ignored top bit set).
    static let lowOrderPoints: [LowOrderPoint] = [
        LowOrderPoint(name: "0 (the all-zero key)", u: "0000000000000000000000000000000000000000000000000000000000000000"),
        LowOrderPoint(name: "1", u: "0100000000000000000000000000000000000000000000000000000000000000"),
        LowOrderPoint(name: "order 8 (e0eb7a7c...)", u: "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        LowOrderPoint(name: "order 8 (5f9c95bc...)", u: "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        LowOrderPoint(name: "p - 1", u: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        LowOrderPoint(name: "p (non-canonical 0)", u: "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        LowOrderPoint(name: "p + 1 (non-canonical 1)", u: "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        LowOrderPoint(name: "0 with the top bit set", u: "0000000000000000000000000000000000000000000000000000000000000080"),
        LowOrderPoint(name: "1 with the top bit set", u: "0100000000000000000000000000000000000000000000000000000000000080"),
    ]

    /// Each refusal throws from inside SecureBytes.init(count:_:), so this also guards against that
    /// initialiser freeing its buffer twice when its body throws (fixed in 36edf65).
    @Test("X25519 refuses a low-order peer key with .invalidPeerKey", arguments: lowOrderPoints)
    func lowOrderPointRefused(_ point: LowOrderPoint) throws {
        let peer = try X25519.PublicKey(bytes: bytes(hex: point.u))
        for key in [X25519.PrivateKey(), try X25519.PrivateKey(rawKey: SecureBytes(bytes(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))] {
            let error = try #require(throws: CryptoError.self) { try key.sharedSecret(with: peer) }
            #expect(error.code == .invalidPeerKey)
        }
    }

    @Test("A fresh key agrees with itself through a second key, and differs from a third")
    func randomAgreement() throws {
        let a = X25519.PrivateKey()
        let b = X25519.PrivateKey()
        let c = X25519.PrivateKey()
        #expect(try a.sharedSecret(with: b.publicKey).constantTimeEquals(try b.sharedSecret(with: a.publicKey)))
        #expect(!(try a.sharedSecret(with: b.publicKey).constantTimeEquals(try a.sharedSecret(with: c.publicKey))))
    }

    /// X25519(scalar, u) through the public API.
    private func x25519(_ scalar: [UInt8], _ u: [UInt8]) throws -> [UInt8] {
        try X25519.PrivateKey(rawKey: SecureBytes(scalar)).sharedSecret(with: X25519.PublicKey(bytes: u)).unprotectedBytes
    }
}
