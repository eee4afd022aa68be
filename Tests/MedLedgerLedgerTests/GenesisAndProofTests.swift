@testable import MedLedgerLedger
import MedLedgerWire
import Testing

@Suite("genesis and state proofs")
struct GenesisAndProofTests {
    @Test("a genesis file round-trips through JSON and keeps its hash")
    func genesisJSON() throws {
        let chain = TestChain()
        let genesis = chain.state.genesis
        let parsed = try Genesis(json: genesis.json.prettyDescription)
        #expect(parsed == genesis)
        #expect(parsed.hash == genesis.hash)
        #expect(try Genesis(canonicalBytes: genesis.canonicalBytes) == genesis)
    }

    @Test(
        "a wrong genesis file says which member is wrong",
        arguments: [
            (#"{"chain_id":"x","genesis_time":1}"#, "$.facilities is missing"),
            (#"{"chain_id":"Bad Id","genesis_time":1,"facilities":[]}"#, "chain id"),
            (#"{"chain_id":"x","genesis_time":-1,"facilities":[]}"#, "$.genesis_time must be a whole number"),
            (#"{"chain_id":"x","genesis_time":1,"facilities":[{"name":"a","kind":"castle"}]}"#, "$.facilities[0].kind castle is not one of"),
            ("not json", "not valid JSON"),
        ])
    func genesisErrors(text: String, message: String) {
        #expect {
            _ = try Genesis(json: text)
        } throws: { error in
            guard let error = error as? LedgerError, error.code == .invalidGenesis else { return false }
            return error.reason.contains(message)
        }
    }

    @Test("a consent's inclusion proof and an unknown consent's exclusion proof verify against the block's state root; tampering fails")
    func proofs() throws {
        var f = try RuleFixture()
        let root = f.chain.blocks.last!.block.header.stateRoot
        #expect(f.chain.state.stateRoot == root)
        let key = StateKey.key(.consent, f.consent)
        let (value, proof) = f.chain.state.proof(for: key)
        let consent = try #require(value)
        #expect(try Consent(canonicalBytes: consent).grant.grantee == f.chain.dental.organisation.key)
        #expect(proof.verify(root: root, key: key, value: consent))
        var tampered = consent
        tampered[tampered.count - 1] ^= 1
        #expect(!proof.verify(root: root, key: key, value: tampered))
        #expect(!proof.verify(root: Bytes32(repeating: 9), key: key, value: consent))
        #expect(!proof.verify(root: root, key: key, value: nil))
        let missing = StateKey.key(.consent, Bytes32(repeating: 0xAB))
        let (absent, exclusion) = f.chain.state.proof(for: missing)
        #expect(absent == nil)
        #expect(exclusion.verify(root: root, key: missing, value: nil))
        #expect(!exclusion.verify(root: root, key: missing, value: [1]))
    }
}
