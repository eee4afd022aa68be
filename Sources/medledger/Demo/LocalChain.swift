#if canImport(Glibc)
    import Glibc
#endif
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

/// A party of the demo: a signing key, an X25519 key for record keys, and its next nonce.
final class DemoParty {
    let name: String
    let signing = Ed25519.PrivateKey()
    let encryption = X25519.PrivateKey()
    private(set) var nonce: UInt64 = 0

    init(_ name: String) { self.name = name }

    var key: Bytes32 { signing.publicKey.wire }
    var box: Bytes32 { Bytes32(encryption.publicKey.bytes)! }

    func sign(_ body: TransactionBody, chainID: String) -> Transaction {
        nonce += 1
        return Transaction.signed(body, by: signing, nonce: nonce, chainID: chainID)
    }
}

/// A facility of the demo: its organisation (a party) and its validator key.
struct DemoFacility {
    let organisation: DemoParty
    let validator = Ed25519.PrivateKey()
    let facility: Facility

    init(_ name: String, kind: FacilityKind) {
        organisation = DemoParty(name)
        facility = Facility(
            name: name, kind: kind, organisationKey: organisation.key, validatorKey: validator.publicKey.wire,
            nodeKey: Ed25519.PrivateKey().publicKey.wire, recordKey: organisation.box, power: 10)
    }
}

/// Four facilities running the ledger in one process: every block is proposed, re-executed the
/// way each validator checks it, certified by all four validators' precommits, and appended to a
/// real segment log. The networked BFT cluster replaces this with the node issue; the ledger,
/// the rules, the encryption and the log are the real ones.
struct LocalChain {
    let chainID = "medledger-demo"
    let facilities: [DemoFacility]
    private(set) var state: LedgerState
    private(set) var lastCommit: CommitCertificate?
    let log: SegmentLog

    init(facilities: [DemoFacility], directory: String) throws {
        self.facilities = facilities
        let genesis = try Genesis(
            chainID: chainID, genesisTime: UInt64(Clock.nowMilliseconds), facilities: facilities.map(\.facility))
        state = try LedgerState(genesis: genesis)
        log = try SegmentLog.open(directory: directory, chainID: chainID).log
    }

    /// Proposes a block of `transactions`, has every validator check and sign it, makes it
    /// durable, and applies it. Returns the height.
    @discardableResult
    mutating func commit(_ transactions: [Transaction]) throws -> UInt64 {
        let verified = try LedgerState.verify(transactions, chainID: chainID)
        let proposer = facilities[Int(state.height) % facilities.count].facility.validatorKey
        let (block, _) = try state.proposeBlock(transactions: verified, lastCommit: lastCommit, proposer: proposer)
        let checked = try state.applying(block, verified: verified)
        let commit = certify(block.header)
        try log.append(CommittedBlock(block: block, commit: commit))
        state = checked
        lastCommit = commit
        return block.header.height
    }

    /// Every validator's precommit for `header`, stamped a second after it.
    func certify(_ header: BlockHeader) -> CommitCertificate {
        let signatures = facilities.enumerated().map { index, member -> CommitSignature in
            let timestamp = header.time + 1000 + UInt64(index)
            let vote = Vote(
                voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                validator: member.facility.validatorKey, signature: Bytes64(repeating: 0))
            let signature = member.validator.signature(for: .vote, chainID: chainID, message: vote.signedBytes)
            return CommitSignature(validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
        }
        return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
    }
}

enum Clock {
    /// Milliseconds since the Unix epoch.
    static var nowMilliseconds: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
