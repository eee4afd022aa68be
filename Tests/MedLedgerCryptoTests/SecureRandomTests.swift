import MedLedgerCrypto
import Testing

struct SecureRandomTests {
    @Test("returns exactly the requested number of bytes", arguments: [0, 1, 12, 32, 1000])
    func count(_ count: Int) {
        #expect(secureRandomBytes(count).count == count)
    }

    @Test("two 32-byte draws differ")
    func drawsDiffer() {
        // Equal draws have probability 2^-256: a failure means the generator is broken.
        #expect(secureRandomBytes(32) != secureRandomBytes(32))
    }
}
