import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// The chain the store suite writes: committed blocks of `transactionsPerBlock` of the workload's
/// signed `grant_consent` transactions each (a different slice of the pool at each height, cycling
/// through it), linked by hash, each carrying the previous block's certificate as `last_commit`
/// (with its `last_commit_hash`) and decided by a certificate of the four genesis validators'
/// real precommit signatures. The transactions root is the real one; the state root is a
/// placeholder hash (the store never applies a block). What the log stores is therefore what a
/// node's log holds, byte for byte, as far as compression and the CRC are concerned.
struct StoreChain {
    let workload: Workload
    let transactionsPerBlock: Int
    private let slices: Int
    private var roots: [Int: Bytes32] = [:]
    private(set) var height: UInt64 = 0
    private(set) var lastHash = Bytes32.zero
    private var lastCommit: CommitCertificate?

    init(workload: Workload, transactionsPerBlock: Int) {
        precondition(transactionsPerBlock >= 1 && transactionsPerBlock <= workload.grants.count)
        self.workload = workload
        self.transactionsPerBlock = transactionsPerBlock
        slices = workload.grants.count / transactionsPerBlock
    }

    /// The next block, at `height + 1`.
    mutating func next() -> CommittedBlock {
        let height = self.height + 1
        let slice = Int((height - 1) % UInt64(slices))
        let start = slice * transactionsPerBlock
        let transactions = Array(workload.grants[start..<(start + transactionsPerBlock)])
        let transactionsRoot: Bytes32
        if let cached = roots[slice] {
            transactionsRoot = cached
        } else {
            transactionsRoot = LedgerState.transactionsRoot(transactions)
            roots[slice] = transactionsRoot
        }
        let template = workload.registrationBlock.header
        let facilities = workload.facilities
        let header = BlockHeader(
            chainID: workload.chainID, height: height, time: Workload.genesisTime + height * Workload.blockInterval,
            previousHash: lastHash, lastCommitHash: LedgerState.commitHash(lastCommit),
            transactionsRoot: transactionsRoot, evidenceRoot: template.evidenceRoot,
            stateRoot: Bytes32(SHA256.hash(Array("state \(height)".utf8)).bytes)!,
            validatorsHash: template.validatorsHash,
            nextValidatorsHash: template.nextValidatorsHash,
            proposer: facilities[Int(height % UInt64(facilities.count))].facility.validatorKey)
        let block = Block(header: header, transactions: transactions, evidence: [], lastCommit: lastCommit)
        let commit = workload.certify(header)
        self.height = height
        lastHash = header.hash
        lastCommit = commit
        return CommittedBlock(block: block, commit: commit)
    }

    /// The next `count` blocks.
    mutating func next(_ count: Int) -> [CommittedBlock] { (0..<count).map { _ in next() } }

    /// What a full verification checks of one record's block (Protocol/LOG.md section 8, without
    /// the certificates, which need the validator set): the height, the hash link, the certificate's
    /// height and block hash, `last_commit_hash` and `transactions_root`. Returns the block's hash.
    static func verify(_ committed: CommittedBlock, height: UInt64, previousHash: Bytes32) -> Bytes32? {
        let block = committed.block
        let header = block.header
        let hash = header.hash
        guard header.height == height, header.previousHash == previousHash, committed.commit.height == height,
            committed.commit.blockHash == hash, header.lastCommitHash == LedgerState.commitHash(block.lastCommit),
            header.transactionsRoot == LedgerState.transactionsRoot(block.transactions)
        else { return nil }
        return hash
    }
}
