import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire
import Testing

/// A one-facility chain and parties that sign, for the mempool.
struct PoolFixture {
    static let chainID = "medledger-mempool-test"
    let organisation = Self.key("org")
    let state: LedgerState

    static func key(_ label: String) -> Ed25519.PrivateKey {
        try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("pool \(label)".utf8)).bytes))
    }

    static func box(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array("box \(label)".utf8)).bytes)! }

    init() throws {
        let facility = Facility(
            name: "General Hospital", kind: .hospital, organisationKey: organisation.publicKey.wire,
            validatorKey: Self.key("validator").publicKey.wire, nodeKey: Self.key("node").publicKey.wire, recordKey: Self.box("org"), power: 10)
        state = try LedgerState(genesis: Genesis(chainID: Self.chainID, genesisTime: 1_800_000_000_000, facilities: [facility]))
    }

    /// A patient's registration, attested by the facility.
    func register(_ patient: Ed25519.PrivateKey, nonce: UInt64 = 1, box: Bytes32? = nil) -> Transaction {
        let encryptionKey = box ?? Self.box(patient.publicKey.wire.hex)
        return Transaction.signed(
            .registerPatient(.attested(patient: patient.publicKey.wire, encryptionKey: encryptionKey, by: organisation, chainID: Self.chainID)),
            by: patient, nonce: nonce, chainID: Self.chainID)
    }

    func preferences(_ patient: Ed25519.PrivateKey, nonce: UInt64, optOut: Bool = true) -> Transaction {
        Transaction.signed(
            .setPreferences(SetPreferences(patient: patient.publicKey.wire, breakGlassOptOut: optOut)), by: patient, nonce: nonce, chainID: Self.chainID)
    }
}

@Suite("mempool")
struct MempoolTests {
    let now: UInt64 = 1_800_000_001_000

    @Test("admits a valid transaction once; refuses a bad signature, a reused nonce and a rule breach with the ledger's reason")
    func admission() throws {
        let fixture = try PoolFixture()
        var pool = Mempool(state: fixture.state)
        let alice = PoolFixture.key("alice")
        let register = fixture.register(alice)
        #expect(pool.admit(register, now: now) == .added(Mempool.id(of: register)))
        #expect(pool.admit(register, now: now) == .duplicate(Mempool.id(of: register)))
        #expect(pool.count == 1)

        var forged = fixture.preferences(alice, nonce: 2)
        forged.nonce = 3  // the signature no longer covers the envelope
        guard case .rejected(_, let badSignature) = pool.admit(forged, now: now) else { Issue.record("a forged signature was admitted"); return }
        #expect(badSignature.code == .badSignature)

        guard case .rejected(_, let reused) = pool.admit(fixture.preferences(alice, nonce: 1), now: now) else { Issue.record("a reused nonce was admitted"); return }
        #expect(reused.code == .nonceReused)

        let mallory = PoolFixture.key("mallory")
        guard case .rejected(_, let unknown) = pool.admit(fixture.preferences(mallory, nonce: 1), now: now) else { Issue.record("a stranger's preferences were admitted"); return }
        #expect(unknown.code == .unknownPatient)
        #expect(pool.count == 1, "refusals leave the pool as it was")
    }

    @Test("a transaction may depend on one admitted before it (register, then set preferences)")
    func dependentTransactions() throws {
        let fixture = try PoolFixture()
        var pool = Mempool(state: fixture.state)
        let alice = PoolFixture.key("alice")
        #expect(pool.admit(fixture.register(alice), now: now) == .added(Mempool.id(of: fixture.register(alice))))
        let preferences = fixture.preferences(alice, nonce: 2)
        #expect(pool.admit(preferences, now: now) == .added(Mempool.id(of: preferences)))
        #expect(pool.transactions.map(\.nonce) == [1, 2])
    }

    @Test("reaping follows admission order and stops at the count and byte limits; a proposal applies to the committed state")
    func reapAndPropose() throws {
        let fixture = try PoolFixture()
        var pool = Mempool(state: fixture.state)
        let patients = (0..<10).map { PoolFixture.key("patient \($0)") }
        for patient in patients { _ = pool.admit(fixture.register(patient), now: now) }
        #expect(pool.count == 10)
        let ids = pool.transactions.map(\.id)
        #expect(pool.reap(maxCount: 4, maxBytes: .max).map(\.id) == Array(ids.prefix(4)))
        let one = pool.transactions[0].envelope.canonicalBytes.count
        #expect(pool.reap(maxCount: 100, maxBytes: one * 3 + one / 2).count == 3)

        let proposer = PoolFixture.key("validator").publicKey.wire
        let (block, skipped) = try pool.proposal(maxCount: 6, maxBytes: .max, lastCommit: nil, proposer: proposer)
        #expect(skipped.isEmpty)
        #expect(block.transactions.count == 6)
        let next = try fixture.state.applying(block)
        #expect(next.patient(signingKey: patients[0].publicKey.wire) != nil)
    }

    @Test("after a commit the included transactions leave and the rest are checked again: those that no longer apply are dropped")
    func recheckAfterCommit() throws {
        let fixture = try PoolFixture()
        var pool = Mempool(state: fixture.state)
        let alice = PoolFixture.key("alice")
        let bob = PoolFixture.key("bob")
        let aliceHere = fixture.register(alice)
        let bobHere = fixture.register(bob)
        _ = pool.admit(aliceHere, now: now)
        _ = pool.admit(bobHere, now: now)
        // Another node's block registers Bob with other keys first (the same nonce): Bob's pending
        // registration can no longer apply.
        let bobElsewhere = fixture.register(bob, box: PoolFixture.box("elsewhere"))
        let verified = try LedgerState.verify([aliceHere, bobElsewhere], chainID: PoolFixture.chainID)
        let (block, state) = try fixture.state.proposeBlock(transactions: verified, lastCommit: nil, proposer: PoolFixture.key("validator").publicKey.wire)
        let dropped = pool.committed(block, state: state, now: now + 1_000)
        #expect(pool.isEmpty)
        #expect(dropped.map(\.0) == [Mempool.id(of: bobHere)])
        #expect(pool.bytes == 0)
        // What was committed is remembered: offered again, it is a duplicate, not a new refusal.
        #expect(pool.admit(aliceHere, now: now) == .duplicate(Mempool.id(of: aliceHere)))
    }

    @Test("the pool is bounded: in count, in bytes and per signer")
    func bounded() throws {
        let fixture = try PoolFixture()
        var limits = Mempool.Limits()
        limits.maxTransactions = 5
        var pool = Mempool(state: fixture.state, limits: limits)
        for index in 0..<5 { _ = pool.admit(fixture.register(PoolFixture.key("p\(index)")), now: now) }
        guard case .full = pool.admit(fixture.register(PoolFixture.key("p5")), now: now) else { Issue.record("a sixth transaction fit"); return }

        limits = Mempool.Limits()
        limits.maxPerSigner = 2
        pool = Mempool(state: fixture.state, limits: limits)
        let alice = PoolFixture.key("alice")
        _ = pool.admit(fixture.register(alice), now: now)
        _ = pool.admit(fixture.preferences(alice, nonce: 2), now: now)
        guard case .full = pool.admit(fixture.preferences(alice, nonce: 3, optOut: false), now: now) else { Issue.record("a third from one signer fit"); return }

        limits = Mempool.Limits()
        let size = fixture.register(alice).canonicalBytes.count
        limits.maxBytes = size * 2
        pool = Mempool(state: fixture.state, limits: limits)
        _ = pool.admit(fixture.register(PoolFixture.key("a")), now: now)
        _ = pool.admit(fixture.register(PoolFixture.key("b")), now: now)
        guard case .full = pool.admit(fixture.register(PoolFixture.key("c")), now: now) else { Issue.record("the byte limit did not hold"); return }
        #expect(pool.bytes <= limits.maxBytes)
    }
}
