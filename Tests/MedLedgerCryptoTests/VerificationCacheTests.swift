@testable import MedLedgerCrypto
import Testing

@Suite("verification cache")
struct VerificationCacheTests {
    let key = try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("cache test".utf8)).bytes))

    @Test("a success is remembered; a failure never is, and a remembered signature does not cover other bytes, keys or chains")
    func remembersOnlySuccesses() throws {
        let cache = VerificationCache()
        let message: [UInt8] = Array("vote h1 r0".utf8)
        let signature = key.signature(for: .vote, chainID: "chain-a", message: message)
        #expect(key.publicKey.isValidSignature(signature, for: .vote, chainID: "chain-a", message: message, cache: cache))
        #expect(cache.count == 1)
        #expect(key.publicKey.isValidSignature(signature, for: .vote, chainID: "chain-a", message: message, cache: cache))
        #expect(cache.count == 1, "the second check was a hit")

        var tampered = message
        tampered[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: .vote, chainID: "chain-a", message: tampered, cache: cache))
        #expect(!key.publicKey.isValidSignature(signature, for: .vote, chainID: "chain-b", message: message, cache: cache))
        #expect(!key.publicKey.isValidSignature(signature, for: .proposal, chainID: "chain-a", message: message, cache: cache))
        let other = try Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("other".utf8)).bytes))
        #expect(!other.publicKey.isValidSignature(signature, for: .vote, chainID: "chain-a", message: message, cache: cache))
        #expect(cache.count == 1, "failures are not cached")
    }

    @Test("the cache is bounded")
    func bounded() throws {
        let cache = VerificationCache()
        for index in 0..<(VerificationCache.capacity + 2_000) {
            cache.insert(SHA256.hash(Array("entry \(index)".utf8)))
        }
        #expect(cache.count <= VerificationCache.capacity)
        #expect(cache.count > 0)
    }
}
