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
    /// round → validator index → its votes of that type, first one first. A validator that
    /// equivocates has more than one (at most ``maxValuesPerValidator``, each for a different
    /// value): it counts towards each value it voted for, and once towards "any".
    var prevotes: [UInt32: [Int: [Vote]]] = [:]
    var precommits: [UInt32: [Int: [Vote]]] = [:]
    static let maxValuesPerValidator = 4
    var done: Set<String> = []
    var reportedEvidence: Set<String> = []
    var fetching: Set<Bytes32> = []
    /// Verified commit certificates from block sync, by block hash.
    var certified: [Bytes32: CommitCertificate] = [:]
    var awaitingBlock = false
    /// Decided and handed to the runtime; waiting for it to be durable.
    var decided: CommittedBlock?
    /// Messages for the next height that arrived early (peers move on while our block is being made
    /// durable); replayed when we get there. Bounded: at most one proposal and one vote per
    /// validator, round and type.
    var early: [String: ConsensusInput] = [:]
    var earlyValues: [String: Int] = [:]
    static let maxEarlyMessages = 4096

    /// The signer state that is durable, and the newest one asked for.
    public private(set) var durableSigner: SignerState
    var requestedSigner: SignerState
    /// Signed messages waiting for their signer state to be durable, oldest first.
    var pendingSignatures: [(state: SignerState, message: Signed)] = []

    enum Signed: Sendable {
        case proposal(Proposal)
        case vote(Vote)
    }

    /// Switches that only tests may turn on, to show the simulator catches real bugs.
    public struct Faults: Sendable, Hashable {
        /// Ignore the locking rule: prevote any valid proposal even when locked on another block.
        public var ignoreLocks = false
        /// Propose a fresh block even when a valid value is known (a Byzantine proposer's choice).
        public var ignoreValidValue = false
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
        // A restarted validator resumes in the round and step it last signed at, honouring its
        // lock, and sends the votes it signed at this height again (section 14).
        if signer.height == height {
            resumeRound = signer.round
            resumeStep = signer.step
            if let round = signer.lockedRound, let hash = signer.lockedHash {
                lockedRound = Int64(round)
                lockedHash = hash
            }
        }
    }

    /// Where `start` begins: round 0, or where a restarted validator last signed.
    var resumeRound: UInt32 = 0
    var resumeStep: Step = .propose

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
        startRound(resumeRound, &actions)
        if durableSigner.height == height {
            // Restarted: it already took the steps up to the one it signed; its votes of this
            // height may never have left (or were lost with the peers' memory), so they go again.
            step = Swift.max(step, resumeStep)
            for vote in durableSigner.votes {
                actions.append(.broadcastVote(vote))
                receive(vote, &actions)
            }
        }
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
            // Only a state at or after the durable one moves it on; then every signature it covers may leave.
            if state.covers(durableSigner) { durableSigner = state }
            release(&actions)
        case .blockDurable(let h):
            if let decided, decided.block.header.height == h, h == height { advance(after: decided, &actions) }
        case .syncedBlock(let committed):
            let block = committed.block
            if block.header.height == height, decided == nil,
                (try? validators.verify(committed.commit, height: height, blockHash: block.header.hash, chainID: chainID)) != nil,
                keep(block)
            {
                // The certificate is itself the proof that a quorum precommitted the block; its votes
                // are still received, for evidence against a validator that signed otherwise.
                certified[block.header.hash] = committed.commit
                for signature in committed.commit.signatures {
                    receive(committed.commit.precommit(for: signature, validator: validators.validators[Int(signature.validatorIndex)].key), &actions)
                }
                requestValidation(block, &actions)
            }
        case .fetchedBlock(let block):
            let hash = block.header.hash
            if block.header.height == height, fetching.contains(hash), keep(block) {
                fetching.remove(hash)
                requestValidation(block, &actions)
            }
        }
        evaluate(&actions)
        return actions
    }

    // MARK: Receiving

    /// Whether a message of the next height may be kept under `key` (checked before the signature,
    /// which is only verified for a message that would be kept).
    func earlySlotFree(_ key: String) -> Bool { early.count < Self.maxEarlyMessages && early[key] == nil }

    /// Rounds further ahead than this are ignored: a Byzantine proposer of far rounds cannot make
    /// us store or validate without bound. (Round skips need only the next few rounds.)
    static let roundWindow: UInt32 = 32

    func inWindow(_ r: UInt32) -> Bool { r <= round &+ Self.roundWindow }

    /// Keeps a block under its hash, never replacing one already kept, and only if its body is the
    /// one its header commits to (a relay cannot swap transactions under a signed header).
    mutating func keep(_ block: Block) -> Bool {
        let hash = block.header.hash
        if blocks[hash] != nil { return true }
        guard LedgerState.bodyMatchesHeader(block) else { return false }
        blocks[hash] = block
        return true
    }

    func verifies(_ proposal: Proposal) -> Bool {
        let expected = validators.validators[proposer(height: proposal.height, round: proposal.round)].key
        return proposal.proposer == expected && proposal.block.header.hash == proposal.blockHash
            // (Not the header's proposer: a valid value is re-proposed in a later round by that
            // round's proposer, with the header its first proposer built.)
            && proposal.block.header.height == proposal.height
            && expected.ed25519.verifies(proposal.signature, for: .proposal, chainID: chainID, message: proposal.signedBytes)
    }

    mutating func receive(_ proposal: Proposal, _ actions: inout [ConsensusAction]) {
        if proposal.height == height + 1 {
            let key = "p/\(proposal.round)"
            if proposal.round < Self.roundWindow, earlySlotFree(key), verifies(proposal) { early[key] = .proposal(proposal) }
            return
        }
        guard proposal.height == height, inWindow(proposal.round), proposals[proposal.round] == nil, verifies(proposal) else { return }
        if let pol = proposal.polRound, pol >= proposal.round { return }
        guard keep(proposal.block) else { return }
        proposals[proposal.round] = proposal
        requestValidation(proposal.block, &actions)
    }

    mutating func requestValidation(_ block: Block, _ actions: inout [ConsensusAction]) {
        let hash = block.header.hash
        guard verdicts[hash] == nil, !validating.contains(hash) else { return }
        validating.insert(hash)
        actions.append(.validate(block))
    }

    func verifies(_ vote: Vote) -> Bool {
        vote.validator.ed25519.verifies(vote.signature, for: .vote, chainID: chainID, message: vote.signedBytes)
    }

    mutating func receive(_ vote: Vote, _ actions: inout [ConsensusAction]) {
        guard let index = validators.index(of: vote.validator) else { return }
        if vote.height == height + 1 {
            // Keyed by value too (an equivocator's votes are all kept, up to the same bound as at
            // the current height).
            let slot = "v/\(vote.round)/\(vote.voteType.rawValue)/\(index)"
            let key = "\(slot)/\(vote.blockHash?.description ?? "nil")"
            if vote.round < Self.roundWindow, earlySlotFree(key), earlyValues[slot, default: 0] < Self.maxValuesPerValidator, verifies(vote) {
                early[key] = .vote(vote)
                earlyValues[slot, default: 0] += 1
            }
            return
        }
        if vote.height + 1 == height {
            checkPrevious(vote, index: index, &actions)
            return
        }
        guard vote.height == height, inWindow(vote.round) else { return }
        let existing = (vote.voteType == .prevote ? prevotes[vote.round]?[index] : precommits[vote.round]?[index]) ?? []
        // Gossip delivers most votes more than once: a copy of a stored vote needs no second
        // verification, and a second vote for a value already held adds nothing.
        guard !existing.contains(where: { $0.blockHash == vote.blockHash }), existing.count < Self.maxValuesPerValidator, verifies(vote)
        else { return }
        if let first = existing.first {
            // Equivocation. The vote is kept too: the other value may have a quorum that honest
            // peers saw, and they need this vote to see it (the paper counts it for each value).
            let tag = "\(index)/\(vote.round)/\(vote.voteType.rawValue)"
            if reportedEvidence.insert(tag).inserted { actions.append(.evidence(Evidence(duplicateVote: first, vote))) }
        }
        if vote.voteType == .prevote {
            prevotes[vote.round, default: [:]][index, default: []].append(vote)
        } else {
            precommits[vote.round, default: [:]][index, default: []].append(vote)
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
        if let validHash, let block = blocks[validHash], !faults.ignoreValidValue {
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

    /// Signs the message and asks for the signer state that covers it (with the vote in its list);
    /// the message leaves the machine only once that state is durable (section 14).
    mutating func requestSignature(_ message: Signed, step: Step, hash: Bytes32?, _ actions: inout [ConsensusAction]) {
        guard let key, index != nil, requestedSigner.allows(height: height, round: round, step: step) else { return }
        let lock: (UInt32?, Bytes32?) = lockedRound >= 0 ? (UInt32(lockedRound), lockedHash) : (nil, nil)
        var state = SignerState(
            height: height, round: round, step: step, blockHash: hash, lockedRound: lock.0, lockedHash: lock.1,
            votes: requestedSigner.height == height ? requestedSigner.votes : [])
        let signed: Signed
        switch message {
        case .proposal(var proposal):
            proposal.signature = Bytes64(key.signature(for: .proposal, chainID: chainID, message: proposal.signedBytes).bytes)!
            signed = .proposal(proposal)
        case .vote(var vote):
            vote.signature = Bytes64(key.signature(for: .vote, chainID: chainID, message: vote.signedBytes).bytes)!
            state.votes = Array((state.votes + [vote]).suffix(SignerState.maxVotes))
            signed = .vote(vote)
        }
        requestedSigner = state
        pendingSignatures.append((state, signed))
        actions.append(.persistSignerState(state))
    }

    /// Sends every signed message whose signer state is durable, and receives it itself.
    mutating func release(_ actions: inout [ConsensusAction]) {
        while let first = pendingSignatures.first, durableSigner.covers(first.state) {
            pendingSignatures.removeFirst()
            switch first.message {
            case .proposal(let proposal):
                actions.append(.broadcastProposal(proposal))
                receive(proposal, &actions)
            case .vote(let vote):
                actions.append(.broadcastVote(vote))
                receive(vote, &actions)
            }
        }
    }

    mutating func fire(_ timeout: Timeout, _ actions: inout [ConsensusAction]) {
        guard decided == nil, timeout.height == height, timeout.round == round else { return }
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

    func power(_ votes: [Int: [Vote]]?, for hash: Bytes32??) -> UInt64 {
        guard let votes else { return 0 }
        return votes.reduce(0) { sum, entry in
            if let hash, !entry.value.contains(where: { $0.blockHash == hash }) { return sum }
            return sum + validators.validators[entry.key].power
        }
    }

    func quorum(_ votes: [Int: [Vote]]?, for hash: Bytes32??) -> Bool { validators.isQuorum(power(votes, for: hash)) }

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
        // Decide on a verified certificate from block sync, once the block is judged valid here.
        for hash in certified.keys.sorted() where verdicts[hash] == true {
            if let block = blocks[hash] {
                decided = CommittedBlock(block: block, commit: certified[hash]!)
                actions.append(.commit(decided!))
                return
            }
        }
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
            for hash in Set(votes.values.joined().compactMap(\.blockHash)).sorted() where quorum(votes, for: .some(hash)) {
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
            if power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 1) {
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
        let votes = (precommits[r] ?? [:]).compactMap { index, votes in votes.first { $0.blockHash == hash }.map { (index, $0) } }
            .sorted { $0.0 < $1.0 }
        let certificate = CommitCertificate(
            height: height, round: r, blockHash: hash,
            signatures: votes.map { CommitSignature(validatorIndex: UInt16($0.0), timestamp: $0.1.timestamp, signature: $0.1.signature) })
        let committed = CommittedBlock(block: block, commit: certificate)
        decided = committed
        actions.append(.commit(committed))
    }

    /// A late vote for the height just decided: compared with the first vote of that validator,
    /// round and type kept from that height, so an equivocation that shows up late is still evidence.
    mutating func checkPrevious(_ vote: Vote, index: Int, _ actions: inout [ConsensusAction]) {
        let slot = PreviousSlot(round: vote.round, type: vote.voteType, validator: index)
        guard let first = previousVotes[slot], first.blockHash != vote.blockHash, !previousEvidence.contains(slot), verifies(vote) else { return }
        previousEvidence.insert(slot)
        actions.append(.evidence(Evidence(duplicateVote: first, vote)))
    }

    struct PreviousSlot: Hashable {
        var round: UInt32
        var type: VoteType
        var validator: Int
    }

    /// The first vote of each validator, round and type at the previous height, and the slots
    /// already reported (bounded like the votes of a height: the round window).
    var previousVotes: [PreviousSlot: Vote] = [:]
    var previousEvidence: Set<PreviousSlot> = []

    mutating func advance(after committed: CommittedBlock, _ actions: inout [ConsensusAction]) {
        previousVotes = [:]
        previousEvidence = []
        for (type, table) in [(VoteType.prevote, prevotes), (.precommit, precommits)] {
            for (round, votes) in table {
                for (validator, list) in votes {
                    let slot = PreviousSlot(round: round, type: type, validator: validator)
                    previousVotes[slot] = list[0]
                    if list.count > 1 { previousEvidence.insert(slot) }
                }
            }
        }
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
        certified = [:]
        done = []
        reportedEvidence = []
        decided = nil
        startRound(0, &actions)
        let replay = early.keys.sorted().map { early[$0]! }
        early = [:]
        earlyValues = [:]
        for input in replay {
            switch input {
            case .proposal(let proposal): receive(proposal, &actions)
            case .vote(let vote): receive(vote, &actions)
            default: break
            }
        }
    }

    /// The machine's inner state, for a simulator trace.
    package var debugState: String {
        let votes = { (table: [UInt32: [Int: [Vote]]]) -> String in
            table.keys.sorted().map { r in "r\(r):" + table[r]!.keys.sorted().map { i in "\(i)=" + table[r]![i]!.map { $0.blockHash.map { String($0.description.prefix(6)) } ?? "nil" }.joined(separator: "/") }.joined(separator: ",") }.joined(separator: " ")
        }
        return "h\(height) r\(round) \(step) locked \(lockedRound) valid \(validRound) proposals \(proposals.keys.sorted().map { "\($0):\(proposals[$0]!.blockHash.description.prefix(6))" }) verdicts \(verdicts.map { "\($0.key.description.prefix(6))=\($0.value)" }) validating \(validating.count) prevotes[\(votes(prevotes))] precommits[\(votes(precommits))]"
    }

    /// The certificate of the last decided block (the next block's `last_commit`).
    public var previousCommit: CommitCertificate? { lastCommit }
}
