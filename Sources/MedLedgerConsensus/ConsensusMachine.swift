import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// Tendermint-style BFT consensus for one validator, as a pure state machine (Protocol/CONSENSUS.md).
///
/// Inputs in, actions out: no sockets, clocks, disk or randomness. The runtime passes the time with
/// every input (virtual time in the simulator), carries out the actions in order, and feeds back
/// what they produce. Signing is deterministic (Ed25519), and no signature leaves before the signer
/// state that covers it is durable.
public struct ConsensusMachine: Sendable {
    public let chainID: String
    public let validators: ValidatorSet
    public let timeouts: ConsensusTimeouts
    let key: Ed25519.PrivateKey?
    /// This validator's position in the set; nil for an observer.
    public let index: Int?

    public private(set) var height: UInt64
    public private(set) var round: UInt32 = 0
    public private(set) var step: Step = .propose
    var lockedRound: Int64 = -1
    var lockedHash: Bytes32?
    var validRound: Int64 = -1
    var validHash: Bytes32?
    var lastCommit: CommitCertificate?
    /// Time of the last committed block: votes are stamped after it.
    var lastBlockTime: UInt64
    var now: UInt64 = 0

    var proposals: [UInt32: Proposal] = [:]
    var blocks: [Bytes32: Block] = [:]
    var verdicts: [Bytes32: Bool] = [:]
    var validating: Set<Bytes32> = []
    var prevotes: [UInt32: [Int: Vote]] = [:]
    var precommits: [UInt32: [Int: Vote]] = [:]
    var done: Set<String> = []
    var reportedEvidence: Set<String> = []
    var fetching: Set<Bytes32> = []
    var awaitingBlock = false
    /// Decided and handed to the runtime; waiting for it to be durable.
    var decided: CommittedBlock?
    /// Messages for the next height that arrived early (peers move on while our block is being made
    /// durable); replayed when we get there. Bounded: at most one proposal and one vote per
    /// validator, round and type.
    var early: [String: ConsensusInput] = [:]
    static let maxEarlyMessages = 4096

    /// The signer state that is durable, and the newest one asked for.
    public private(set) var durableSigner: SignerState
    var requestedSigner: SignerState
    var pendingSignatures: [(state: SignerState, message: Unsigned)] = []

    enum Unsigned: Sendable {
        case proposal(Proposal)
        case vote(Vote)
    }

    /// Switches that only tests may turn on, to show the simulator catches real bugs.
    public struct Faults: Sendable, Hashable {
        /// Ignore the locking rule: prevote any valid proposal even when locked on another block.
        public var ignoreLocks = false
        public init() {}
    }

    var faults = Faults()

    /// - Parameters:
    ///   - key: this validator's key; nil runs an observer that follows but never signs.
    ///   - height: the height to decide next (1 for a new chain).
    ///   - signer: the durable signer state loaded at start: nothing at or below it is signed again.
    public init(
        chainID: String, validators: ValidatorSet, key: Ed25519.PrivateKey?, height: UInt64, lastCommit: CommitCertificate?,
        lastBlockTime: UInt64, signer: SignerState = .initial, timeouts: ConsensusTimeouts = ConsensusTimeouts()
    ) {
        self.chainID = chainID
        self.validators = validators
        self.timeouts = timeouts
        self.key = key
        index = key.flatMap { validators.index(of: $0.publicKey.wire) }
        self.height = height
        self.lastCommit = lastCommit
        self.lastBlockTime = lastBlockTime
        durableSigner = signer
        requestedSigner = signer
    }

    /// For tests only: break a rule on purpose.
    package mutating func inject(_ faults: Faults) { self.faults = faults }

    /// The proposer of `round` at `height`: round-robin over the validator set.
    public func proposer(height: UInt64, round: UInt32) -> Int {
        Int((height + UInt64(round)) % UInt64(validators.validators.count))
    }

    // MARK: Driving

    /// Starts round 0 of the current height.
    public mutating func start(now: UInt64) -> [ConsensusAction] {
        self.now = now
        var actions: [ConsensusAction] = []
        startRound(0, &actions)
        evaluate(&actions)
        return actions
    }

    /// Takes one input at time `now` (ms) and returns what to do.
    public mutating func handle(_ input: ConsensusInput, now: UInt64) -> [ConsensusAction] {
        self.now = Swift.max(self.now, now)
        var actions: [ConsensusAction] = []
        switch input {
        case .proposal(let proposal): receive(proposal, &actions)
        case .vote(let vote): receive(vote, &actions)
        case .timeout(let timeout): fire(timeout, &actions)
        case .blockToPropose(let h, let r, let block):
            if h == height, r == round, awaitingBlock, step == .propose {
                awaitingBlock = false
                propose(block, polRound: nil, &actions)
            }
        case .validity(let hash, let valid):
            validating.remove(hash)
            verdicts[hash] = valid
        case .signerStateDurable(let state):
            if state.allows(height: durableSigner.height, round: durableSigner.round, step: durableSigner.step)
                || state == durableSigner
            {
                durableSigner = state
            }
            release(&actions)
        case .blockDurable(let h):
            if let decided, decided.block.header.height == h, h == height { advance(after: decided, &actions) }
        case .syncedBlock(let committed):
            let block = committed.block
            if block.header.height == height, decided == nil,
                (try? validators.verify(committed.commit, height: height, blockHash: block.header.hash, chainID: chainID)) != nil
            {
                blocks[block.header.hash] = block
                for signature in committed.commit.signatures {
                    receive(committed.commit.precommit(for: signature, validator: validators.validators[Int(signature.validatorIndex)].key), &actions)
                }
                requestValidation(block, &actions)
            }
        case .fetchedBlock(let block):
            let hash = block.header.hash
            if block.header.height == height, fetching.contains(hash) {
                fetching.remove(hash)
                blocks[hash] = block
                requestValidation(block, &actions)
            }
        }
        evaluate(&actions)
        return actions
    }

    // MARK: Receiving

    /// Keeps a message for the next height until we reach it.
    mutating func keepEarly(_ key: String, _ input: ConsensusInput) {
        guard early.count < Self.maxEarlyMessages, early[key] == nil else { return }
        early[key] = input
    }

    mutating func receive(_ proposal: Proposal, _ actions: inout [ConsensusAction]) {
        if proposal.height == height + 1 { keepEarly("p/\(proposal.round)/\(proposal.proposer.hex)", .proposal(proposal)) }
        guard proposal.height == height, proposals[proposal.round] == nil else { return }
        let expected = validators.validators[proposer(height: proposal.height, round: proposal.round)].key
        guard proposal.proposer == expected, proposal.block.header.hash == proposal.blockHash,
            proposal.block.header.height == height,
            expected.ed25519.verifies(proposal.signature, for: .proposal, chainID: chainID, message: proposal.signedBytes)
        else { return }
        if let pol = proposal.polRound, pol >= proposal.round { return }
        proposals[proposal.round] = proposal
        blocks[proposal.blockHash] = proposal.block
        requestValidation(proposal.block, &actions)
    }

    mutating func requestValidation(_ block: Block, _ actions: inout [ConsensusAction]) {
        let hash = block.header.hash
        guard verdicts[hash] == nil, !validating.contains(hash) else { return }
        validating.insert(hash)
        actions.append(.validate(block))
    }

    mutating func receive(_ vote: Vote, _ actions: inout [ConsensusAction]) {
        if vote.height == height + 1 { keepEarly("v/\(vote.round)/\(vote.voteType.rawValue)/\(vote.validator.hex)", .vote(vote)) }
        guard vote.height == height, let index = validators.index(of: vote.validator),
            vote.validator.ed25519.verifies(vote.signature, for: .vote, chainID: chainID, message: vote.signedBytes)
        else { return }
        let existing = vote.voteType == .prevote ? prevotes[vote.round]?[index] : precommits[vote.round]?[index]
        if let existing {
            if existing.blockHash != vote.blockHash {
                let tag = "\(index)/\(vote.round)/\(vote.voteType.rawValue)"
                if reportedEvidence.insert(tag).inserted { actions.append(.evidence(Evidence(duplicateVote: existing, vote))) }
            }
            return
        }
        if vote.voteType == .prevote {
            prevotes[vote.round, default: [:]][index] = vote
        } else {
            precommits[vote.round, default: [:]][index] = vote
        }
    }

    // MARK: Rounds

    mutating func startRound(_ r: UInt32, _ actions: inout [ConsensusAction]) {
        round = r
        step = .propose
        awaitingBlock = false
        guard let index, proposer(height: height, round: r) == index else {
            actions.append(.scheduleTimeout(Timeout(height: height, round: r, step: .propose), afterMilliseconds: timeouts.milliseconds(.propose, round: r)))
            return
        }
        if let validHash, let block = blocks[validHash] {
            propose(block, polRound: UInt32(validRound), &actions)
        } else {
            awaitingBlock = true
            actions.append(.buildBlock(height: height, round: r))
        }
        actions.append(.scheduleTimeout(Timeout(height: height, round: r, step: .propose), afterMilliseconds: timeouts.milliseconds(.propose, round: r)))
    }

    mutating func propose(_ block: Block, polRound: UInt32?, _ actions: inout [ConsensusAction]) {
        guard let key else { return }
        let proposal = Proposal(
            height: height, round: round, polRound: polRound, blockHash: block.header.hash, timestamp: now,
            proposer: key.publicKey.wire, signature: Bytes64(repeating: 0), block: block)
        requestSignature(.proposal(proposal), step: .propose, hash: block.header.hash, &actions)
    }

    mutating func vote(_ type: VoteType, _ hash: Bytes32?, _ actions: inout [ConsensusAction]) {
        guard let key else { return }
        let blockTime = hash.flatMap { blocks[$0]?.header.time } ?? lastBlockTime
        let vote = Vote(
            voteType: type, height: height, round: round, blockHash: hash, timestamp: Swift.max(now, blockTime + 1),
            validator: key.publicKey.wire, signature: Bytes64(repeating: 0))
        requestSignature(.vote(vote), step: type == .prevote ? .prevote : .precommit, hash: hash, &actions)
    }

    /// Asks for the signer state that covers the message; it is signed and sent once that is durable.
    mutating func requestSignature(_ message: Unsigned, step: Step, hash: Bytes32?, _ actions: inout [ConsensusAction]) {
        guard requestedSigner.allows(height: height, round: round, step: step) else { return }
        let state = SignerState(height: height, round: round, step: step, blockHash: hash)
        requestedSigner = state
        pendingSignatures.append((state, message))
        actions.append(.persistSignerState(state))
    }

    /// Signs and sends every message whose signer state is durable.
    mutating func release(_ actions: inout [ConsensusAction]) {
        guard let key else { return }
        while let first = pendingSignatures.first,
            !first.state.allows(height: durableSigner.height, round: durableSigner.round, step: durableSigner.step)
        {
            pendingSignatures.removeFirst()
            switch first.message {
            case .proposal(var proposal):
                proposal.signature = Bytes64(key.signature(for: .proposal, chainID: chainID, message: proposal.signedBytes).bytes)!
                actions.append(.broadcastProposal(proposal))
                receive(proposal, &actions)
            case .vote(var vote):
                vote.signature = Bytes64(key.signature(for: .vote, chainID: chainID, message: vote.signedBytes).bytes)!
                actions.append(.broadcastVote(vote))
                receive(vote, &actions)
            }
        }
    }

    mutating func fire(_ timeout: Timeout, _ actions: inout [ConsensusAction]) {
        guard timeout.height == height, timeout.round == round else { return }
        switch timeout.step {
        case .propose where step == .propose:
            vote(.prevote, nil, &actions)
            step = .prevote
        case .prevote where step == .prevote:
            vote(.precommit, nil, &actions)
            step = .precommit
        case .precommit:
            startRound(round + 1, &actions)
        default:
            break
        }
    }

    // MARK: The rules (the upon-clauses of the Tendermint paper, Algorithm 1)

    func power(_ votes: [Int: Vote]?, for hash: Bytes32??) -> UInt64 {
        guard let votes else { return 0 }
        return votes.reduce(0) { sum, entry in
            if let hash, entry.value.blockHash != hash { return sum }
            return sum + validators.validators[entry.key].power
        }
    }

    func quorum(_ votes: [Int: Vote]?, for hash: Bytes32??) -> Bool { validators.isQuorum(power(votes, for: hash)) }

    mutating func once(_ tag: String) -> Bool { done.insert("\(height)/\(tag)").inserted }

    mutating func evaluate(_ actions: inout [ConsensusAction]) {
        var changed = true
        while changed {
            changed = false
            let before = (round, step, decided == nil)
            rules(&actions)
            changed = before != (round, step, decided == nil)
        }
    }

    mutating func rules(_ actions: inout [ConsensusAction]) {
        guard decided == nil else { return }
        // Decide: a proposal and a quorum of precommits for it, in any round.
        // (Dictionaries are walked in sorted order: the actions must not depend on hash seeds.)
        for r in proposals.keys.sorted() {
            let proposal = proposals[r]!
            if verdicts[proposal.blockHash] == true && quorum(precommits[r], for: .some(proposal.blockHash)) {
                decide(proposal.block, round: r, &actions)
                return
            }
        }
        // A quorum precommitted a block we have without its proposal, or do not have: validate or fetch it.
        for r in precommits.keys.sorted() {
            let votes = precommits[r]!
            for hash in Set(votes.values.compactMap(\.blockHash)).sorted() where quorum(votes, for: .some(hash)) {
                guard let block = blocks[hash] else {
                    if fetching.insert(hash).inserted { actions.append(.fetchBlock(height: height, blockHash: hash)) }
                    continue
                }
                requestValidation(block, &actions)
                if verdicts[hash] == true {
                    decide(block, round: r, &actions)
                    return
                }
            }
        }
        // Round skip: more than a third of the power is already in a later round.
        let later = Set(prevotes.keys).union(precommits.keys).filter { $0 > round }
        for r in later.sorted(by: >) {
            var voters = Set(prevotes[r]?.keys.map { $0 } ?? [])
            voters.formUnion(precommits[r]?.keys.map { $0 } ?? [])
            let power = voters.reduce(UInt64(0)) { $0 + validators.validators[$1].power }
            if power * 3 > validators.totalPower {
                startRound(r, &actions)
                return
            }
        }
        let r = round
        if step == .propose, let proposal = proposals[r], let valid = verdicts[proposal.blockHash] {
            if let vr = proposal.polRound {
                if quorum(prevotes[vr], for: .some(proposal.blockHash)) {
                    let acceptable = valid && (lockedRound <= Int64(vr) || lockedHash == proposal.blockHash || faults.ignoreLocks)
                    vote(.prevote, acceptable ? proposal.blockHash : nil, &actions)
                    step = .prevote
                }
            } else {
                let acceptable = valid && (lockedRound == -1 || lockedHash == proposal.blockHash || faults.ignoreLocks)
                vote(.prevote, acceptable ? proposal.blockHash : nil, &actions)
                step = .prevote
            }
        }
        if step == .prevote, quorum(prevotes[r], for: .none), once("prevote-timeout/\(r)") {
            actions.append(.scheduleTimeout(Timeout(height: height, round: r, step: .prevote), afterMilliseconds: timeouts.milliseconds(.prevote, round: r)))
        }
        if step >= .prevote, let proposal = proposals[r], verdicts[proposal.blockHash] == true,
            quorum(prevotes[r], for: .some(proposal.blockHash)), once("polka/\(r)")
        {
            if step == .prevote {
                lockedRound = Int64(r)
                lockedHash = proposal.blockHash
                vote(.precommit, proposal.blockHash, &actions)
                step = .precommit
            }
            validRound = Int64(r)
            validHash = proposal.blockHash
        }
        if step == .prevote, quorum(prevotes[r], for: .some(nil)) {
            vote(.precommit, nil, &actions)
            step = .precommit
        }
        if quorum(precommits[r], for: .none), once("precommit-timeout/\(r)") {
            actions.append(.scheduleTimeout(Timeout(height: height, round: r, step: .precommit), afterMilliseconds: timeouts.milliseconds(.precommit, round: r)))
        }
    }

    mutating func decide(_ block: Block, round r: UInt32, _ actions: inout [ConsensusAction]) {
        let hash = block.header.hash
        let votes = (precommits[r] ?? [:]).filter { $0.value.blockHash == hash }.sorted { $0.key < $1.key }
        let certificate = CommitCertificate(
            height: height, round: r, blockHash: hash,
            signatures: votes.map { CommitSignature(validatorIndex: UInt16($0.key), timestamp: $0.value.timestamp, signature: $0.value.signature) })
        let committed = CommittedBlock(block: block, commit: certificate)
        decided = committed
        actions.append(.commit(committed))
    }

    mutating func advance(after committed: CommittedBlock, _ actions: inout [ConsensusAction]) {
        height += 1
        lastCommit = committed.commit
        lastBlockTime = committed.block.header.time
        lockedRound = -1
        lockedHash = nil
        validRound = -1
        validHash = nil
        proposals = [:]
        blocks = [:]
        verdicts = [:]
        validating = []
        prevotes = [:]
        precommits = [:]
        fetching = []
        decided = nil
        startRound(0, &actions)
        let replay = early.keys.sorted().map { early[$0]! }
        early = [:]
        for input in replay {
            switch input {
            case .proposal(let proposal): receive(proposal, &actions)
            case .vote(let vote): receive(vote, &actions)
            default: break
            }
        }
    }

    /// The certificate of the last decided block (the next block's `last_commit`).
    public var previousCommit: CommitCertificate? { lastCommit }
}
