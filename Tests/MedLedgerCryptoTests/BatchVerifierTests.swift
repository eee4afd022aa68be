import MedLedgerCrypto
import Testing

@Suite("batch signature verification")
struct BatchVerifierTests {
    static let chainID = "medledger-test"

    static func checks(count: Int) -> [SignatureCheck] {
        let keys = (0..<5).map { _ in Ed25519.PrivateKey() }
        return (0..<count).map { index in
            let key = keys[index % keys.count]
            let message = Array("vote \(index)".utf8)
            return SignatureCheck(
                publicKey: key.publicKey, signature: key.signature(for: .vote, chainID: chainID, message: message),
                domain: .vote, chainID: chainID, message: message)
        }
    }

    @Test("valid batches pass sequentially and in parallel", arguments: [0, 1, 31, 32, 33, 500])
    func validBatches(count: Int) {
        let checks = Self.checks(count: count)
        #expect(BatchVerifier.verify(checks, parallelThreshold: Int.max).allValid)
        #expect(BatchVerifier.verify(checks, parallelThreshold: 1, workers: 2).allValid)
        #expect(BatchVerifier.verify(checks, parallelThreshold: 1, workers: 7).allValid)
    }

    @Test("the report names exactly the bad signatures, whichever way they are bad")
    func reportsFailures() throws {
        var checks = Self.checks(count: 300)
        let other = Ed25519.PrivateKey()
        var bad: [Int] = []
        for index in stride(from: 3, to: 300, by: 37) {
            switch index % 5 {
            case 0: checks[index].message[0] ^= 1  // message changed
            case 1: checks[index].domain = .proposal  // another purpose
            case 2: checks[index].chainID = "medledger-other"  // another chain
            case 3: checks[index].publicKey = other.publicKey  // another signer
            default:
                var bytes = checks[index].signature.bytes
                bytes[63] ^= 0x40
                checks[index].signature = try Ed25519.Signature(bytes: bytes)  // signature changed
            }
            bad.append(index)
        }
        #expect(BatchVerifier.verify(checks, parallelThreshold: Int.max).failures == bad)
        #expect(BatchVerifier.verify(checks, parallelThreshold: 1, workers: 2).failures == bad)
        #expect(BatchVerifier.verify(checks, parallelThreshold: 1, workers: 3).failures == bad)
    }
}

@Suite("scrypt parameters")
struct ScryptParameterTests {
    @Test("a huge N is refused with invalidLength instead of overflowing")
    func hugeN() throws {
        #expect {
            _ = try Scrypt.deriveKey(
                passphrase: SecureBytes([1]), salt: [2], parameters: Scrypt.Parameters(n: 1 << 60, r: 8, p: 1), length: 32)
        } throws: { error in
            (error as? CryptoError)?.code == .invalidLength
        }
    }
}
