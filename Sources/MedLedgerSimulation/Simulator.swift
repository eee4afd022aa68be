import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// N validators' consensus machines in one process on virtual time, each with its own ledger
/// state, driven by a seeded network and the faults of a ``Scenario``; it plays the node runtime of
/// Protocol/CONSENSUS.md section 5 for every machine and checks the invariants after every step.
/// A run is a function of (scenario, seed): a failing seed replays exactly.
///
/// Invariants: **agreement** (no two honest nodes commit different blocks at one height),
/// **validity** (every committed block's certificate verifies, the committing node's own verdict
/// on it was positive and it applies to that node's state), **no honest double-sign** (an honest
/// validator never lets two different messages for one height, round and step leave, across
/// restarts, and no evidence names it), **time** (block time strictly increases and never runs
/// ahead of the honest clocks) and **liveness** (after the last fault heals, every honest node
/// commits new heights within ``Options/livenessBound``).
public final class Simulator {
    public struct Options: Sendable {
        /// Every honest node must commit at least this many heights.
        public var minimumHeights: UInt64 = 3
        /// And this many more than the best honest node had when the faults healed.
        public var heightsAfterHealing: UInt64 = 2
        /// Virtual ms after healing within which that must happen.
        public var livenessBound: UInt64 = 120_000
        /// Breaks rules on purpose in the honest machines (the negative control).
        public var machineFaults = ConsensusMachine.Faults()
        /// Called with a line per event (for replaying a failing seed by eye).
        public var trace: (@Sendable (String) -> Void)?

        public init() {}
    }

    /// What a run found.
    public struct Report: Sendable {
        public var seed: UInt64
        public var scenario: Scenario
        public var violations: [String]
        /// Per instance: committed heights (nil for dishonest instances).
        public var honestHeights: [Int: UInt64]
        public var healedAt: UInt64
        /// The best honest height when the faults healed (nil with no faults to heal).
        public var heightAtHealing: UInt64?
        /// Virtual ms from healing until every honest node reached the target (nil if it did not).
        public var recoveredAfter: UInt64?
        public var finishedAt: UInt64
        public var events: Int
        public var evidenceAgainst: Set<Int>
        /// Per honest instance: the hashes of the blocks it committed, by height from 1.
        public var chains: [Int: [Bytes32]]
        public var ok: Bool { violations.isEmpty }
    }

    /// One node. A class: the simulator reaches into it on every event, and copying a struct of
    /// this size on each access is what a debug build would do.
    final class Instance {
        let validator: Int
        let honest: Bool
        var machine: ConsensusMachine
        var state: LedgerState
        var up = true
        var committed: [UInt64: CommittedBlock] = [:]
        /// The durable signer state (the "disk"): updated when a persist completes.
        var signerDisk: SignerState = .initial
        /// Everything this instance let out, by "height/round/step": to catch double-signing.
        var sent: [String: Bytes32?] = [:]
        var verdicts: [Bytes32: Bool] = [:]
        /// Consensus messages to gossip (its own and those it received), by id, in arrival order.
        var relay: [Int: Relay] = [:]
        var relayOrder: [Int] = []
        /// Ids of the messages this instance has (so peers stop sending them).
        var has: Set<Int> = []
        var seenBlocks: [Bytes32: Block] = [:]
        var fetches: [(height: UInt64, hash: Bytes32)] = []
        var height: UInt64 { machine.height }

        init(validator: Int, honest: Bool, machine: ConsensusMachine, state: LedgerState) {
            self.validator = validator
            self.honest = honest
            self.machine = machine
            self.state = state
        }
    }

    struct Relay {
        var input: ConsensusInput
        var height: UInt64
        /// Peers it goes to (nil: all); an equivocator sends each of its twin votes to half.
        var targets: Set<Int>?
    }

    enum Event {
        case deliver(to: Int, from: Int, ConsensusInput, id: Int?)
        case local(Int, ConsensusInput)
        case gossip
        case crash(Int, downFor: UInt64)
        case restart(Int)
        case heal

        var node: Int? {
            switch self {
            case .deliver(let to, _, _, _): to
            case .local(let node, _): node
            default: nil
            }
        }
    }

    public static let chainID = "medledger-sim"
    public static let genesisTime: UInt64 = 1_760_000_000_000
    /// How far a liar's clock runs ahead.
    static let liarSkew: UInt64 = 3_600_000
    static let gossipInterval: UInt64 = 250

    public let seed: UInt64
    public let scenario: Scenario
    let options: Options
    let keys: [Ed25519.PrivateKey]
    let validatorSet: ValidatorSet
    var instances: [Instance] = []
    var queue = EventQueue<Event>()
    var rng: SplitMix64
    public private(set) var now: UInt64 = 0
    var violations: [String] = []
    var evidenceAgainst: Set<Int> = []
    var target: UInt64?
    var heightAtHealing: UInt64?
    var doneAt: UInt64?
    var events = 0
    var messageIDs: [Bytes64: Int] = [:]
    /// The lock attack's victim is silent until this time.
    var silencedVictim: Int?
    var silencedUntil: UInt64 = 0

    public init(scenario: Scenario, seed: UInt64, options: Options = Options()) throws {
        self.seed = seed
        self.scenario = scenario
        self.options = options
        rng = SplitMix64(seed: seed)
        keys = (0..<scenario.validators).map {
            try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("sim validator \($0)".utf8)).bytes))
        }
        let facilities = keys.enumerated().map { index, key in
            Facility(
                name: "facility \(index)", kind: .hospital, organisationKey: Self.digest("org \(index)"),
                validatorKey: key.publicKey.wire, nodeKey: Self.digest("node \(index)"), recordKey: Self.digest("box \(index)"),
                power: 10)
        }
        let genesis = try Genesis(chainID: Self.chainID, genesisTime: Self.genesisTime, facilities: facilities)
        let state = try LedgerState(genesis: genesis)
        validatorSet = state.validators
        let owners = Array(0..<scenario.validators) + scenario.twins.sorted()
        for validator in owners {
            let honest = !scenario.byzantine.contains(validator) && !scenario.crashed.contains(validator)
            let instance = Instance(validator: validator, honest: honest, machine: makeMachine(validator, height: 1, state: state, signer: .initial), state: state)
            instance.up = !scenario.crashed.contains(validator)
            instances.append(instance)
        }
    }

    static func digest(_ text: String) -> Bytes32 { Bytes32(SHA256.hash(Array(text.utf8)).bytes)! }

    func makeMachine(_ validator: Int, height: UInt64, state: LedgerState, signer: SignerState, lastCommit: CommitCertificate? = nil) -> ConsensusMachine {
        var machine = ConsensusMachine(
            chainID: Self.chainID, validators: validatorSet, key: keys[validator], height: height, lastCommit: lastCommit,
            lastBlockTime: state.lastBlockTime, signer: signer)
        if scenario.byzantine.contains(validator) {
            // Byzantine machines break the locking rule always, and propose fresh blocks: they
            // help any value to a quorum.
            var faults = ConsensusMachine.Faults()
            faults.ignoreLocks = true
            faults.ignoreValidValue = true
            machine.inject(faults)
        } else {
            machine.inject(options.machineFaults)
        }
        return machine
    }

    // MARK: Running

    /// Runs to the end: every honest node reached the target, an invariant broke, or the liveness
    /// bound passed.
    public func run() -> Report {
        for index in instances.indices where instances[index].up { perform(index, instances[index].machine.start(now: clock(index))) }
        for restart in scenario.restarts {
            for index in instances.indices where instances[index].validator == restart.validator {
                queue.push(.crash(index, downFor: restart.downFor), at: restart.at)
            }
        }
        queue.push(.gossip, at: Self.gossipInterval)
        if scenario.healedAt > 0 { queue.push(.heal, at: scenario.healedAt) } else { target = options.minimumHeights }
        let deadline = scenario.healedAt + options.livenessBound
        while violations.isEmpty, doneAt == nil, let entry = queue.pop() {
            if entry.time > deadline {
                now = deadline
                break
            }
            now = Swift.max(now, entry.time)
            events += 1
            step(entry.payload)
            checkDone()
        }
        if options.trace != nil {
            for index in instances.indices { trace("node \(index) state: \(instances[index].machine.debugState)") }
        }
        if violations.isEmpty, doneAt == nil {
            let stuck = honestUp.filter { instances[$0].committed.count < Int(target ?? options.minimumHeights) }.map { index in
                let machine = instances[index].machine
                return "node \(index) at height \(machine.height) round \(machine.round) step \(machine.step)"
            }
            violations.append("liveness: \(options.livenessBound) ms after healing (at \(scenario.healedAt) ms) not every honest node reached height \(target ?? options.minimumHeights): \(stuck.joined(separator: "; "))")
        }
        var heights: [Int: UInt64] = [:]
        var chains: [Int: [Bytes32]] = [:]
        for index in instances.indices where instances[index].honest {
            heights[index] = UInt64(instances[index].committed.count)
            chains[index] = instances[index].committed.keys.sorted().map { instances[index].committed[$0]!.block.header.hash }
        }
        return Report(
            seed: seed, scenario: scenario, violations: violations, honestHeights: heights, healedAt: scenario.healedAt, heightAtHealing: heightAtHealing,
            recoveredAfter: doneAt.map { $0 - scenario.healedAt }, finishedAt: now, events: events, evidenceAgainst: evidenceAgainst,
            chains: chains)
    }

    var honestUp: [Int] { instances.indices.filter { instances[$0].honest && instances[$0].up } }

    func checkDone() {
        guard let target, now >= scenario.healedAt else { return }
        let honest = instances.indices.filter { instances[$0].honest && !scenario.crashed.contains(instances[$0].validator) }
        if honest.allSatisfy({ instances[$0].up && UInt64(instances[$0].committed.count) >= target }) { doneAt = now }
    }

    /// The instance's clock in ms since the epoch (a liar's runs an hour ahead).
    func clock(_ index: Int) -> UInt64 {
        Self.genesisTime + now + (scenario.liars.contains(instances[index].validator) ? Self.liarSkew : 0)
    }

    func trace(_ line: @autoclosure () -> String) {
        if let trace = options.trace { trace("\(now)ms \(line())") }
    }

    func step(_ event: Event) {
        switch event {
        case .gossip:
            gossip()
            queue.push(.gossip, at: now + Self.gossipInterval)
        case .heal:
            let best = honestUp.map { UInt64(instances[$0].committed.count) }.max() ?? 0
            heightAtHealing = best
            target = Swift.max(options.minimumHeights, best + options.heightsAfterHealing)
            trace("healed: target height \(target!)")
        case .crash(let index, let downFor):
            crash(index)
            queue.push(.restart(index), at: now + downFor)
        case .restart(let index):
            restart(index)
        case .local(let index, let input):
            guard instances[index].up else { return }
            if case .signerStateDurable(let state) = input {
                // The write completed: this is what a restart will find.
                if state.covers(instances[index].signerDisk) { instances[index].signerDisk = state }
            }
            perform(index, instances[index].machine.handle(input, now: clock(index)))
        case .deliver(let to, let from, let input, let id):
            deliver(to: to, from: from, input, id: id)
        }
    }

    // MARK: The network

    func reachable(from: Int, to: Int) -> Bool {
        if from == silencedVictim, now < silencedUntil { return false }
        for partition in scenario.partitions where now >= partition.from && now < partition.until {
            switch partition.kind {
            case .halves:
                if (from < instances.count / 2) != (to < instances.count / 2) { return false }
            case .isolate(let node):
                if from == node || to == node { return false }
            case .oneWay(let sources, let sinks):
                if sources.contains(from), sinks.contains(to) { return false }
            case .bridge(let a, let b):
                if (a.contains(from) && b.contains(to)) || (b.contains(from) && a.contains(to)) { return false }
            }
        }
        return true
    }

    func chance(_ p: Double) -> Bool { p > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < p }

    func delay() -> UInt64 {
        let span = scenario.maximumDelay - scenario.minimumDelay
        return scenario.minimumDelay + (span > 0 ? rng.next() % span : 0)
    }

    /// Puts one copy on the wire: it may be lost (partition, drop), late, or duplicated.
    func send(_ input: ConsensusInput, id: Int?, from: Int, to: Int) {
        guard from != to, reachable(from: from, to: to), !chance(scenario.dropRate) else { return }
        let slow = scenario.slowLinks.reduce(UInt64(0)) { $0 + ($1.from == from && $1.to == to && now < $1.until ? $1.extra : 0) }
        queue.push(.deliver(to: to, from: from, input, id: id), at: now + delay() + slow)
        if chance(scenario.duplicateRate) { queue.push(.deliver(to: to, from: from, input, id: id), at: now + delay() + delay() + slow) }
    }

    /// A small number for each distinct signed message (by signature), so that who-has-what
    /// checks hash an integer.
    func messageID(_ signature: Bytes64) -> Int {
        if let id = messageIDs[signature] { return id }
        let id = messageIDs.count + 1
        messageIDs[signature] = id
        return id
    }

    static func height(of input: ConsensusInput) -> UInt64? {
        switch input {
        case .proposal(let proposal): proposal.height
        case .vote(let vote): vote.height
        default: nil
        }
    }

    func deliver(to: Int, from: Int, _ input: ConsensusInput, id: Int?) {
        guard instances[to].up else { return }
        if let id, let height = Self.height(of: input) {
            instances[from].has.insert(id)
            if instances[to].has.contains(id) { return }
            // A message for a height further ahead is not kept by the machine: it comes again.
            guard height <= instances[to].height + 1 else { return }
            instances[to].has.insert(id)
            if height + 1 >= instances[to].height { addRelay(to, input, id: id, height: height, targets: nil) }
            if case .proposal(let proposal) = input {
                instances[to].seenBlocks[proposal.blockHash] = proposal.block
                if scenario.equivocators.contains(instances[to].validator) { endorse(to, proposal) }
            }
        }
        trace("node \(to) <- \(from): \(Self.describe(input))")
        perform(to, instances[to].machine.handle(input, now: clock(to)))
    }

    func addRelay(_ index: Int, _ input: ConsensusInput, id: Int, height: UInt64, targets: Set<Int>?) {
        guard instances[index].relay[id] == nil else { return }
        instances[index].relay[id] = Relay(input: input, height: height, targets: targets)
        instances[index].relayOrder.append(id)
    }

    /// Every tick each live node sends its peers the consensus messages they lack (its own and
    /// those it relays), serves block sync to nodes behind, and retries its block fetches.
    func gossip() {
        for index in instances.indices where instances[index].up {
            for id in instances[index].relayOrder {
                let relay = instances[index].relay[id]!
                for peer in instances.indices where peer != index && instances[peer].up && !instances[peer].has.contains(id) {
                    if let targets = relay.targets, !targets.contains(peer) { continue }
                    send(relay.input, id: id, from: index, to: peer)
                }
            }
            let height = instances[index].height
            let sources = instances.indices.filter {
                instances[$0].up && instances[$0].committed[height] != nil && reachable(from: $0, to: index) && !withholds($0)
            }
            if instances[index].committed[height] == nil, !sources.isEmpty, !chance(scenario.dropRate) {
                // Any peer that has it may serve it (a Byzantine one too).
                let source = sources[Int(rng.next() % UInt64(sources.count))]
                queue.push(.deliver(to: index, from: source, .syncedBlock(instances[source].committed[height]!), id: nil), at: now + delay())
            }
            instances[index].fetches.removeAll { $0.height < height }
            for fetch in instances[index].fetches { serveFetch(index, fetch.hash) }
        }
    }

    /// Under the lock attack the equivocators serve no block sync (which would carry the victim's
    /// precommits to the others).
    func withholds(_ index: Int) -> Bool {
        guard let attack = scenario.lockAttack, now < attack.until else { return false }
        return scenario.equivocators.contains(instances[index].validator)
    }

    func serveFetch(_ index: Int, _ hash: Bytes32) {
        let sources = instances.indices.filter { $0 != index && instances[$0].up && instances[$0].seenBlocks[hash] != nil && reachable(from: $0, to: index) }
        guard !sources.isEmpty, !chance(scenario.dropRate) else { return }
        let source = sources[Int(rng.next() % UInt64(sources.count))]
        queue.push(.local(index, .fetchedBlock(instances[source].seenBlocks[hash]!)), at: now + 2 * delay())
    }

    // MARK: The runtime, for one instance

    func perform(_ index: Int, _ actions: [ConsensusAction]) {
        for action in actions {
            switch action {
            case .broadcastProposal(let proposal):
                trace("node \(index) proposes \(Self.describe(.proposal(proposal)))")
                sent(index, "\(proposal.height)/\(proposal.round)/propose", proposal.blockHash)
                instances[index].seenBlocks[proposal.blockHash] = proposal.block
                let id = messageID(proposal.signature)
                instances[index].has.insert(id)
                addRelay(index, .proposal(proposal), id: id, height: proposal.height, targets: nil)
                for peer in instances.indices { send(.proposal(proposal), id: id, from: index, to: peer) }
            case .broadcastVote(let vote):
                trace("node \(index) votes \(Self.describe(.vote(vote)))")
                if let attack = scenario.lockAttack, attack.victim == index, now < attack.until, vote.voteType == .precommit, vote.blockHash != nil {
                    // The victim's precommit (and everything after it) is held back for a while.
                    silencedVictim = index
                    silencedUntil = now + attack.silence
                    trace("node \(index) is silenced until \(silencedUntil)ms")
                }
                sent(index, "\(vote.height)/\(vote.round)/\(vote.voteType)", vote.blockHash)
                let id = messageID(vote.signature)
                instances[index].has.insert(id)
                if scenario.equivocators.contains(instances[index].validator) {
                    equivocate(index, vote)
                } else {
                    addRelay(index, .vote(vote), id: id, height: vote.height, targets: nil)
                    for peer in instances.indices { send(.vote(vote), id: id, from: index, to: peer) }
                }
            case .scheduleTimeout(let timeout, let delay):
                queue.push(.local(index, .timeout(timeout)), at: now + delay)
            case .persistSignerState(let state):
                queue.push(.local(index, .signerStateDurable(state)), at: now + 1)
            case .buildBlock(let height, let round):
                build(index, height: height, round: round)
            case .validate(let block):
                let valid = (try? instances[index].state.applying(block)) != nil
                instances[index].verdicts[block.header.hash] = valid
                queue.push(.local(index, .validity(blockHash: block.header.hash, valid: valid)), at: now + 2)
            case .fetchBlock(let height, let hash):
                instances[index].fetches.append((height, hash))
                serveFetch(index, hash)
            case .commit(let committed):
                commit(index, committed)
            case .evidence(let evidence):
                if let validator = validatorSet.index(of: evidence.voteA.validator) {
                    evidenceAgainst.insert(validator)
                    if !scenario.byzantine.contains(validator), instances[index].honest {
                        violations.append("an honest node (\(index)) holds evidence against validator \(validator), which is not Byzantine")
                    }
                }
            }
        }
    }

    /// An equivocator sends each vote to half its peers and a conflicting one to the other half.
    func equivocate(_ index: Int, _ vote: Vote) {
        var twin = vote
        twin.blockHash = vote.blockHash == nil ? Self.digest("byzantine \(vote.height)/\(vote.round)") : nil
        twin.signature = Bytes64(keys[instances[index].validator].signature(for: .vote, chainID: Self.chainID, message: twin.signedBytes).bytes)!
        let peers = instances.indices.filter { $0 != index }
        var first = Set(peers.prefix(peers.count / 2))
        var second = Set(peers).subtracting(first)
        if let attack = scenario.lockAttack, now < attack.until {
            // Prevotes to everyone; a precommit for a block to the victim alone, nil to the rest.
            guard vote.voteType == .precommit, vote.blockHash != nil else {
                let id = messageID(vote.signature)
                addRelay(index, .vote(vote), id: id, height: vote.height, targets: nil)
                for peer in peers { send(.vote(vote), id: id, from: index, to: peer) }
                return
            }
            first = [attack.victim]
            second = Set(peers).subtracting(first)
        }
        for (copy, targets) in [(vote, first), (twin, second)] {
            let id = messageID(copy.signature)
            instances[index].has.insert(id)
            addRelay(index, .vote(copy), id: id, height: copy.height, targets: targets)
            for peer in targets.sorted() { send(.vote(copy), id: id, from: index, to: peer) }
        }
    }

    /// An equivocator prevotes and precommits every proposal it sees, to everyone: any two honest
    /// validators plus it make a quorum (n = 4), for whatever value; only the locking rule keeps
    /// the honest ones from committing two of them.
    func endorse(_ index: Int, _ proposal: Proposal) {
        let key = keys[instances[index].validator]
        let attack = scenario.lockAttack.flatMap { now < $0.until ? $0 : nil }
        for type in [VoteType.prevote, .precommit] {
            var vote = Vote(
                voteType: type, height: proposal.height, round: proposal.round, blockHash: proposal.blockHash,
                timestamp: Swift.max(clock(index), proposal.block.header.time + 1), validator: key.publicKey.wire, signature: Bytes64(repeating: 0))
            vote.signature = Bytes64(key.signature(for: .vote, chainID: Self.chainID, message: vote.signedBytes).bytes)!
            let id = messageID(vote.signature)
            instances[index].has.insert(id)
            // Under the lock attack the precommit goes to the victim alone.
            let targets: Set<Int>? = type == .precommit ? attack.map { [$0.victim] } : nil
            addRelay(index, .vote(vote), id: id, height: vote.height, targets: targets)
            for peer in instances.indices where targets?.contains(peer) ?? true { send(.vote(vote), id: id, from: index, to: peer) }
        }
    }

    func build(_ index: Int, height: UInt64, round: UInt32) {
        let machine = instances[index].machine
        let proposer = validatorSet.validators[machine.proposer(height: height, round: round)].key
        var lastCommit = machine.previousCommit
        if index >= scenario.validators, var commit = lastCommit, commit.signatures.count > 1 {
            // The second twin picks another valid certificate when it can (one signature fewer,
            // if still a quorum), so the twins propose different blocks in one round.
            commit.signatures.removeLast()
            if (try? validatorSet.verify(commit, height: commit.height, blockHash: commit.blockHash, chainID: Self.chainID)) != nil { lastCommit = commit }
        }
        guard var (block, _) = try? instances[index].state.proposeBlock(transactions: [], lastCommit: lastCommit, proposer: proposer) else {
            violations.append("node \(index) could not build a block at height \(height)")
            return
        }
        if scenario.liars.contains(instances[index].validator) { block.header.time += Self.liarSkew }
        queue.push(.local(index, .blockToPropose(height: height, round: round, block: block)), at: now + 1)
    }

    func commit(_ index: Int, _ committed: CommittedBlock) {
        let block = committed.block
        let height = block.header.height
        let hash = block.header.hash
        trace("node \(index) commits height \(height) \(hash.short) in round \(committed.commit.round)")
        do {
            try validatorSet.verify(committed.commit, height: height, blockHash: hash, chainID: Self.chainID)
            guard instances[index].verdicts[hash] == true else { throw SimulationFailure("it never judged the block valid") }
            instances[index].state = try instances[index].state.applying(block)
        } catch {
            violations.append("validity: node \(index) committed an invalid block at height \(height): \(error)")
        }
        if instances[index].honest {
            if let previous = instances[index].committed[height - 1], block.header.time <= previous.block.header.time {
                violations.append("time: block \(height) is not later than block \(height - 1)")
            }
            let honestClock = Self.genesisTime + now
            if block.header.time > honestClock + 1_000 {
                violations.append("time: block \(height) is stamped \(block.header.time - honestClock) ms ahead of the honest clocks")
            }
            for other in instances.indices where other != index && instances[other].honest {
                if let theirs = instances[other].committed[height], theirs.block.header.hash != hash {
                    violations.append("agreement: nodes \(index) and \(other) committed different blocks at height \(height)")
                }
            }
        }
        instances[index].committed[height] = committed
        // What was decided a height ago no longer needs gossip: peers that are behind catch up by
        // block sync. (The height just decided is still relayed, so late votes reach everyone.)
        let relay = instances[index].relay
        instances[index].relayOrder.removeAll { relay[$0]!.height < height }
        instances[index].relay = relay.filter { $0.value.height >= height }
        instances[index].seenBlocks = instances[index].seenBlocks.filter { $0.value.header.height > height }
        queue.push(.local(index, .blockDurable(height: height)), at: now + 3)
    }

    func sent(_ index: Int, _ slot: String, _ hash: Bytes32?) {
        if instances[index].honest, let previous = instances[index].sent[slot], previous != hash {
            violations.append("double-sign: honest node \(index) let two different messages out at \(slot)")
        }
        instances[index].sent[slot] = hash
    }

    // MARK: Crash and restart

    /// Everything in memory is lost: the machine, its pending inputs, what it was gossiping, and
    /// what its peers knew it had (the connections drop).
    func crash(_ index: Int) {
        trace("node \(index) crashes")
        instances[index].up = false
        queue.removeAll { $0.node == index }
        instances[index].relay = [:]
        instances[index].relayOrder = []
        instances[index].has = []
        instances[index].seenBlocks = [:]
        instances[index].fetches = []
        instances[index].verdicts = [:]
    }

    /// Starts again from what is durable: the committed chain (the log) and the signer state file.
    func restart(_ index: Int) {
        let height = UInt64(instances[index].committed.count) + 1
        trace("node \(index) restarts at height \(height) from signer state \(instances[index].signerDisk.height)/\(instances[index].signerDisk.round)/\(instances[index].signerDisk.step)")
        instances[index].machine = makeMachine(
            instances[index].validator, height: height, state: instances[index].state, signer: instances[index].signerDisk,
            lastCommit: instances[index].committed[height - 1]?.commit)
        instances[index].up = true
        perform(index, instances[index].machine.start(now: clock(index)))
    }

    static func describe(_ input: ConsensusInput) -> String {
        switch input {
        case .proposal(let p): "proposal h\(p.height) r\(p.round) \(p.blockHash.short)\(p.polRound.map { " pol \($0)" } ?? "")"
        case .vote(let v): "\(v.voteType) h\(v.height) r\(v.round) \(v.blockHash?.short ?? "nil") by \(v.validator.short)"
        case .syncedBlock(let c): "synced block h\(c.block.header.height)"
        default: "\(input)"
        }
    }
}

struct SimulationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Bytes32 {
    var short: String { String(description.prefix(8)) }
}
