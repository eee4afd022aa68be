import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// Transactions waiting for a block: each admitted only after its signature, its nonce and the
/// ledger's rules check out against the committed state (plus the transactions admitted before
/// it), deduplicated by id, bounded in count and bytes, reaped in admission order for proposals,
/// and checked again after every commit.
///
/// A value type owned by the node's serial executor. The signature of each transaction is
/// checked once on admission; the ``VerifiedTransaction`` is kept, and ``verified(_:)`` gives it
/// back when the transaction comes again inside a proposed block.
public struct Mempool: Sendable {
    public struct Limits: Sendable, Hashable {
        public var maxTransactions = 10_000
        public var maxBytes = 32 << 20
        /// Pending transactions of one signer (a flood from one key cannot fill the pool).
        public var maxPerSigner = 256
        /// Ids of committed and refused transactions remembered, to answer repeats cheaply.
        public var rememberedIDs = 50_000

        public init() {}
    }

    /// What happened to a transaction offered to the pool.
    public enum Admission: Sendable, Equatable {
        /// Added: gossip it (to every peer but the one it came from).
        case added(Bytes32)
        /// Already pending, or committed recently: nothing to do.
        case duplicate(Bytes32)
        /// Refused by the ledger (signature, nonce, a rule), with the reason.
        case rejected(Bytes32, LedgerError)
        /// The pool (or this signer's share of it) is full; try later.
        case full(Bytes32, String)
    }

    struct Entry: Sendable {
        var transaction: VerifiedTransaction
        var size: Int
    }

    public let chainID: String
    public let limits: Limits
    /// The committed state the pool checks against, and that state with every pending
    /// transaction applied in admission order.
    public private(set) var committed: LedgerState
    var pending: LedgerState
    var entries: [Bytes32: Entry] = [:]
    /// Admission order.
    var order: [Bytes32] = []
    var perSigner: [Bytes32: Int] = [:]
    public private(set) var bytes = 0
    var remembered: Set<Bytes32> = []
    var rememberedOrder: [Bytes32] = []

    public init(state: LedgerState, limits: Limits = Limits()) {
        chainID = state.chainID
        self.limits = limits
        committed = state
        // Rules only: the pending state is never hashed, so it skips the commitment's writes.
        pending = state.enteringBlock(BlockContext(height: state.height + 1, time: state.lastBlockTime + 1)).withoutCommitment()
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public func contains(_ id: Bytes32) -> Bool { entries[id] != nil }

    /// The transactions in admission order.
    public var transactions: [VerifiedTransaction] { order.compactMap { entries[$0]?.transaction } }

    /// The verified form of a pending transaction, so a block that includes it needs no second
    /// signature check.
    public func verified(_ id: Bytes32) -> VerifiedTransaction? { entries[id]?.transaction }

    /// The context admission checks run in: the next height, at `now` (ms) or just after the last
    /// block, whichever is later.
    func context(now: UInt64) -> BlockContext {
        BlockContext(height: committed.height + 1, time: Swift.max(now, committed.lastBlockTime + 1))
    }

    public static func id(of transaction: Transaction) -> Bytes32 { Bytes32(SHA256.hash(transaction.canonicalBytes).bytes)! }

    /// Offers a transaction (from a client or a peer) at time `now` (ms).
    public mutating func admit(_ transaction: Transaction, now: UInt64) -> Admission {
        let encoded = transaction.canonicalBytes
        let id = Bytes32(SHA256.hash(encoded).bytes)!
        if entries[id] != nil || remembered.contains(id) { return .duplicate(id) }
        guard entries.count < limits.maxTransactions else {
            return .full(id, "the mempool holds its maximum of \(limits.maxTransactions) transactions")
        }
        guard bytes + encoded.count <= limits.maxBytes else {
            return .full(id, "the mempool holds \(bytes) bytes; this transaction's \(encoded.count) would pass the limit of \(limits.maxBytes)")
        }
        guard perSigner[transaction.signer, default: 0] < limits.maxPerSigner else {
            return .full(id, "signer \(transaction.signer.hex) already has \(limits.maxPerSigner) pending transactions")
        }
        let verified: VerifiedTransaction
        do {
            verified = try VerifiedTransaction(transaction, id: id, chainID: chainID)
            // `apply` checks every rule before it writes: a refusal leaves `pending` as it was.
            try pending.apply(verified, in: context(now: now))
        } catch {
            remember(id)
            return .rejected(id, error)
        }
        entries[id] = Entry(transaction: verified, size: encoded.count)
        order.append(id)
        perSigner[transaction.signer, default: 0] += 1
        bytes += encoded.count
        return .added(id)
    }

    /// Pending transactions in admission order, at most `maxCount` and `maxBytes` of them, for a
    /// proposal. (Each signer's transactions come out in the order their nonces were admitted.)
    public func reap(maxCount: Int, maxBytes: Int) -> [VerifiedTransaction] {
        var out: [VerifiedTransaction] = []
        var size = 0
        for id in order {
            guard out.count < maxCount else { break }
            guard let entry = entries[id] else { continue }
            if size + entry.size > maxBytes { break }
            size += entry.size
            out.append(entry.transaction)
        }
        return out
    }

    /// Builds the block to propose on `state` (the committed state): reaps, keeps the transactions
    /// that still apply at the block's own time (a consent may have expired since admission), and
    /// returns the block with the transactions it left out and why.
    public func proposal(
        maxCount: Int, maxBytes: Int, evidence: [Evidence] = [], lastCommit: CommitCertificate?, proposer: Bytes32
    ) throws(LedgerError) -> (block: Block, skipped: [(Bytes32, LedgerError)]) {
        let built = try proposalAndState(
            maxCount: maxCount, maxBytes: maxBytes, evidence: evidence, lastCommit: lastCommit, proposer: proposer)
        return (built.block, built.skipped)
    }

    /// ``proposal(maxCount:maxBytes:evidence:lastCommit:proposer:)`` and the state after the block,
    /// so that the proposer need not execute its own block again to validate it.
    public func proposalAndState(
        maxCount: Int, maxBytes: Int, evidence: [Evidence] = [], lastCommit: CommitCertificate?, proposer: Bytes32
    ) throws(LedgerError) -> (block: Block, state: LedgerState, skipped: [(Bytes32, LedgerError)]) {
        let context = BlockContext(height: committed.height + 1, time: committed.nextBlockTime(lastCommit: lastCommit))
        // Only filters (rules, not the commitment); the block is executed in full once, below.
        var scratch = committed.withoutCommitment()
        var kept: [VerifiedTransaction] = []
        var skipped: [(Bytes32, LedgerError)] = []
        for transaction in reap(maxCount: maxCount, maxBytes: maxBytes) {
            do {
                try scratch.apply(transaction, in: context)
                kept.append(transaction)
            } catch {
                skipped.append((transaction.id, error))
            }
        }
        let built = try committed.proposeBlock(transactions: kept, evidence: evidence, lastCommit: lastCommit, proposer: proposer)
        return (built.block, built.state, skipped)
    }

    /// A block was committed and `state` is the state after it: its transactions leave the pool,
    /// and every other pending transaction is checked again against the new state, in admission
    /// order. Returns the ones dropped because they no longer apply.
    @discardableResult
    public mutating func committed(_ block: Block, state: LedgerState, now: UInt64) -> [(Bytes32, LedgerError)] {
        committed(block, ids: block.transactions.map(Self.id(of:)), state: state, now: now)
    }

    /// ``committed(_:state:now:)`` with the ids of the block's transactions, in block order,
    /// already computed.
    @discardableResult
    public mutating func committed(_ block: Block, ids: [Bytes32], state: LedgerState, now: UInt64) -> [(Bytes32, LedgerError)] {
        precondition(ids.count == block.transactions.count, "one id per transaction of the block")
        for id in ids {
            remove(id)
            remember(id)
        }
        committed = state
        let context = context(now: now)
        // As the next block sees it: the block just committed is one of the recent hashes.
        pending = state.enteringBlock(context).withoutCommitment()
        var dropped: [(Bytes32, LedgerError)] = []
        for id in order {
            guard let entry = entries[id] else { continue }
            do {
                try pending.apply(entry.transaction, in: context)
            } catch {
                dropped.append((id, error))
            }
        }
        for (id, _) in dropped {
            remove(id)
            remember(id)
        }
        order.removeAll { entries[$0] == nil }
        return dropped
    }

    mutating func remove(_ id: Bytes32) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        bytes -= entry.size
        let signer = entry.transaction.signer
        perSigner[signer, default: 1] -= 1
        if perSigner[signer] == 0 { perSigner[signer] = nil }
        // `order` is compacted by the caller, once for a whole block.
    }

    mutating func remember(_ id: Bytes32) {
        guard limits.rememberedIDs > 0, remembered.insert(id).inserted else { return }
        rememberedOrder.append(id)
        // Forget in batches of a quarter: removing from the front of the array shifts all of it,
        // which once per remembered id was most of the pool's cost under load.
        if rememberedOrder.count > limits.rememberedIDs + Swift.max(1, limits.rememberedIDs / 4) {
            let excess = rememberedOrder.count - limits.rememberedIDs
            for old in rememberedOrder.prefix(excess) { remembered.remove(old) }
            rememberedOrder.removeFirst(excess)
        }
    }
}
