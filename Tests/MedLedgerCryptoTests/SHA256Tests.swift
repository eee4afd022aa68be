import MedLedgerCrypto
import Testing

// Known answers from FIPS 180-2, Appendix B (and the NIST CSHS examples for the empty message).
struct SHA256Tests {
    struct KnownAnswer: CustomTestStringConvertible, Sendable {
        let name: String
        let message: String
        let digest: String
        var testDescription: String { name }
    }

    static let knownAnswers: [KnownAnswer] = [
        KnownAnswer(
            name: "empty message",
            message: "",
            digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        KnownAnswer(
            name: "abc (FIPS 180-2 B.1)",
            message: "abc",
            digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        KnownAnswer(
            name: "448-bit message (FIPS 180-2 B.2)",
            message: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test("one-shot hash matches the FIPS known answer", arguments: knownAnswers)
    func oneShotKnownAnswer(_ vector: KnownAnswer) {
        #expect(SHA256.hash(Array(vector.message.utf8)).description == vector.digest)
    }

    @Test("streaming one byte at a time matches the FIPS known answer", arguments: knownAnswers)
    func streamingKnownAnswer(_ vector: KnownAnswer) {
        var hasher = SHA256.Hasher()
        for byte in vector.message.utf8 {
            hasher.update(CollectionOfOne(byte))
        }
        #expect(hasher.finalize().description == vector.digest)
    }

    @Test("one million 'a' streamed in uneven chunks (FIPS 180-2 B.3)")
    func oneMillionA() {
        var hasher = SHA256.Hasher()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var fed = 0
        while fed < 1_000_000 {
            let count = min(chunk.count, 1_000_000 - fed)
            hasher.update(chunk[..<count])
            fed += count
        }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("hashing a non-contiguous collection equals hashing its bytes")
    func nonContiguousInput() {
        let message = "abc".utf8
        #expect(SHA256.hash(message) == SHA256.hash(Array(message)))
        #expect(SHA256.hash(message.lazy.map { $0 }) == SHA256.hash(Array(message)))
    }

    @Test("finalize leaves the hasher usable, and a copy carries on independently")
    func hasherValueSemantics() {
        var hasher = SHA256.Hasher()
        hasher.update(Array("ab".utf8))
        var copy = hasher
        #expect(hasher.finalize() == SHA256.hash(Array("ab".utf8)))

        hasher.update(Array("c".utf8))
        copy.update(Array("x".utf8))
        #expect(hasher.finalize() == SHA256.hash(Array("abc".utf8)))
        #expect(copy.finalize() == SHA256.hash(Array("abx".utf8)))
    }

    @Test("a digest is built only from exactly 32 bytes")
    func digestLengthIsValidated() throws {
        #expect(SHA256Digest(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        #expect(SHA256Digest(bytes: [UInt8](repeating: 0, count: 33)) == nil)
        let digest = SHA256.hash(Array("abc".utf8))
        let rebuilt = try #require(SHA256Digest(bytes: digest.bytes[...]))
        #expect(rebuilt == digest)
        #expect(rebuilt.bytes.count == SHA256Digest.byteCount)
    }
}
