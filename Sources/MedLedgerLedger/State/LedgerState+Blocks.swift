import MedLedgerCrypto
import MedLedgerWire

extension LedgerState {
    /// The BFT time the next block must carry: genesis time at height 1, else the power-weighted
    /// median of the precommit times in its `last_commit`.
    public func nextBlockTime(lastCommit: CommitCertificate?) -> UInt64 {
        guard height > 0, let lastCommit else { return genesis.genesisTime }
        return validators.medianTime(of: lastCommit)
    }

    /// SHA-256 of a canonical commit certificate (`last_commit_hash`); zeros for none.
    public static func commitHash(_ commit: CommitCertificate?) -> Bytes32 {
        commit.map { Bytes32(SHA256.hash($0.canonicalBytes).bytes)! } ?? .zero
    }

    /// The Merkle root of a block's transaction ids.
    public static func transactionsRoot(_ transactions: [Transaction]) -> Bytes32 {
        MerkleList.root(transactions.map(\.id.bytes))
    }

    /// The Merkle root of a block's evidence (canonical encodings).
    public static func evidenceRoot(_ evidence: [Evidence]) -> Bytes32 { MerkleList.root(evidence.map(\.canonicalBytes)) }

    /// Checks `block` against this state (the state after the previous block) and returns the state
    /// after it; throws, changing nothing, if anything about it is invalid.
    ///
    /// - Parameter verified: the block's transactions already decoded and signature-checked (the
    ///   mempool checks each transaction once); nil checks them here, across the cores.
    public func applying(_ block: Block, verified: [VerifiedTransaction]? = nil) throws(LedgerError) -> LedgerState {
        let header = block.header
        let expectedHeight = height + 1
        guard header.chainID == chainID else { throw LedgerError(.invalidBlock, "block is for chain \(header.chainID), not \(chainID)") }
        guard header.height == expectedHeight else {
            throw LedgerError(.invalidBlock, "block height \(header.height), expected \(expectedHeight)")
        }
        guard header.previousHash == lastBlockHash else {
            throw LedgerError(.invalidBlock, "previous_hash \(header.previousHash.hex) is not the last block \(lastBlockHash.hex)")
        }
        if expectedHeight == 1 {
            guard block.lastCommit == nil else { throw LedgerError(.invalidBlock, "the first block has no last commit") }
        } else {
            guard let lastCommit = block.lastCommit else {
                throw LedgerError(.invalidBlock, "block \(expectedHeight) needs the certificate of block \(height)")
            }
            try validators.verify(lastCommit, height: height, blockHash: lastBlockHash, chainID: chainID)
        }
        guard header.lastCommitHash == Self.commitHash(block.lastCommit) else {
            throw LedgerError(.invalidBlock, "last_commit_hash does not match the last commit")
        }
        let time = nextBlockTime(lastCommit: block.lastCommit)
        guard header.time == time else { throw LedgerError(.invalidBlock, "block time \(header.time) is not BFT time \(time)") }
        guard expectedHeight == 1 || time > lastBlockTime else {
            throw LedgerError(.invalidBlock, "BFT time \(time) does not advance past \(lastBlockTime)")
        }
        guard validators.index(of: header.proposer) != nil else {
            throw LedgerError(.invalidBlock, "proposer \(header.proposer.hex) is not a validator")
        }
        guard header.validatorsHash == validators.hash, header.nextValidatorsHash == validators.hash else {
            throw LedgerError(.invalidBlock, "validators_hash does not match the genesis validator set")
        }
        guard header.transactionsRoot == Self.transactionsRoot(block.transactions) else {
            throw LedgerError(.invalidBlock, "transactions_root does not match the transactions")
        }
        guard header.evidenceRoot == Self.evidenceRoot(block.evidence) else {
            throw LedgerError(.invalidBlock, "evidence_root does not match the evidence")
        }
        let transactions: [VerifiedTransaction]
        if let verified {
            transactions = verified
        } else {
            transactions = try Self.verify(block.transactions, chainID: chainID)
        }
        guard transactions.count == block.transactions.count,
            zip(transactions, block.transactions).allSatisfy({ $0.envelope == $1 })
        else { throw LedgerError(.invalidBlock, "the verified transactions are not the block's") }

        var next = self
        let context = BlockContext(height: expectedHeight, time: time)
        next.advance(to: context, previousHash: header.previousHash)
        for (index, evidence) in block.evidence.enumerated() {
            do {
                try next.apply(evidence, in: context)
            } catch {
                throw LedgerError(.invalidBlock, "evidence \(index): \(error)")
            }
        }
        for (index, transaction) in transactions.enumerated() {
            do {
                try next.apply(transaction, in: context)
            } catch {
                throw LedgerError(error.code, "transaction \(index) (\(transaction.body.type.name), \(transaction.id.hex)): \(error.reason)")
            }
        }
        guard header.stateRoot == next.stateRoot else {
            throw LedgerError(.invalidBlock, "state_root \(header.stateRoot.hex) is not the state after the block \(next.stateRoot.hex)")
        }
        next.lastBlockHash = header.hash
        return next
    }

    /// Decodes and verifies the signatures of `transactions`, across the cores.
    public static func verify(
        _ transactions: [Transaction], chainID: String, cache: VerificationCache? = .shared
    ) throws(LedgerError) -> [VerifiedTransaction] {
        var bodies: [TransactionBody] = []
        var checks: [SignatureCheck] = []
        for (index, transaction) in transactions.enumerated() {
            do {
                bodies.append(try TransactionBody.decode(type: transaction.txType, body: transaction.body))
            } catch {
                throw LedgerError(error.code, "transaction \(index): \(error.reason)")
            }
            checks.append(
                SignatureCheck(
                    publicKey: transaction.signer.ed25519, signature: try! Ed25519.Signature(bytes: transaction.signature.bytes),
                    domain: .transaction, chainID: chainID, message: transaction.signedBytes))
        }
        if let bad = BatchVerifier.verify(checks, cache: cache).failures.first {
            throw LedgerError(.badSignature, "transaction \(bad) (\(transactions[bad].id.hex)): the signature does not verify")
        }
        return zip(transactions, bodies).map { VerifiedTransaction(uncheckedEnvelope: $0, body: $1) }
    }

    /// This state as the block of `context` sees it before its first transaction: height, time
    /// and recent block hashes moved on. A mempool checks transactions against it, so that a fetch
    /// request naming the last committed block is admitted, as that block will accept it.
    public func enteringBlock(_ context: BlockContext) -> LedgerState {
        var next = self
        next.advance(to: context, previousHash: lastBlockHash)
        return next
    }

    /// Moves the block context forward before a block's transactions apply.
    mutating func advance(to context: BlockContext, previousHash: Bytes32) {
        height = context.height
        lastBlockTime = context.time
        if context.height > 1 {
            recentBlockHashes.append(previousHash)
            let window = Int(genesis.parameters.fetchRequestWindow)
            if recentBlockHashes.count > window { recentBlockHashes.removeFirst(recentBlockHashes.count - window) }
        }
    }

    /// Whether a block's body is the one its header commits to (transactions, evidence and last
    /// commit against the header's roots): a relay can attach another body to a signed header.
    public static func bodyMatchesHeader(_ block: Block) -> Bool {
        block.header.transactionsRoot == transactionsRoot(block.transactions)
            && block.header.evidenceRoot == evidenceRoot(block.evidence)
            && block.header.lastCommitHash == commitHash(block.lastCommit)
    }

    /// Whether this evidence is already committed.
    public func isCommitted(_ evidence: Evidence) -> Bool { self.evidence.contains(Bytes32(SHA256.hash(evidence.canonicalBytes).bytes)!) }

    /// Throws what a block carrying this evidence next would be refused for (its votes, signer,
    /// signatures, or that it is already committed); records nothing.
    public func check(_ evidence: Evidence) throws(LedgerError) {
        var scratch = self
        try scratch.apply(evidence, in: BlockContext(height: height + 1, time: lastBlockTime + 1))
    }

    /// Checks duplicate-vote evidence and records it (Protocol/LEDGER.md, "Evidence").
    mutating func apply(_ evidence: Evidence, in context: BlockContext) throws(LedgerError) {
        let a = evidence.voteA
        let b = evidence.voteB
        guard a.validator == b.validator, a.voteType == b.voteType, a.height == b.height, a.round == b.round,
            a.blockHash != b.blockHash
        else {
            throw LedgerError(.invalidEvidence, "the two votes are not by one validator for one height, round and type with different blocks")
        }
        guard validators.index(of: a.validator) != nil else {
            throw LedgerError(.invalidEvidence, "\(a.validator.hex) is not a validator")
        }
        for vote in [a, b] {
            guard vote.validator.ed25519.verifies(vote.signature, for: .vote, chainID: chainID, message: vote.signedBytes) else {
                throw LedgerError(.invalidEvidence, "a vote's signature does not verify")
            }
        }
        let hash = Bytes32(SHA256.hash(evidence.canonicalBytes).bytes)!
        guard !self.evidence.contains(hash) else { throw LedgerError(.duplicate, "this evidence is already committed") }
        recordEvidence(hash, validator: a.validator, height: context.height)
    }

    /// Builds the next block from `transactions` (in order) and `evidence`: computes its time, roots
    /// and state root. The proposer of a height calls this; every validator then checks the result
    /// with ``applying(_:verified:)``.
    public func proposeBlock(
        transactions: [VerifiedTransaction], evidence: [Evidence] = [], lastCommit: CommitCertificate?, proposer: Bytes32
    ) throws(LedgerError) -> (block: Block, state: LedgerState) {
        let context = BlockContext(height: height + 1, time: nextBlockTime(lastCommit: lastCommit))
        var next = self
        next.advance(to: context, previousHash: lastBlockHash)
        for item in evidence { try next.apply(item, in: context) }
        for transaction in transactions { try next.apply(transaction, in: context) }
        let header = BlockHeader(
            chainID: chainID, height: context.height, time: context.time, previousHash: lastBlockHash,
            lastCommitHash: Self.commitHash(lastCommit), transactionsRoot: Self.transactionsRoot(transactions.map(\.envelope)),
            evidenceRoot: Self.evidenceRoot(evidence), stateRoot: next.stateRoot, validatorsHash: validators.hash,
            nextValidatorsHash: validators.hash, proposer: proposer)
        next.lastBlockHash = header.hash
        return (Block(header: header, transactions: transactions.map(\.envelope), evidence: evidence, lastCommit: lastCommit), next)
    }
}
