import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Testing

/// N validators in one process on virtual time, each with its own ledger state, driven by a
/// seeded network. Every run replays exactly from its seed.
///
/// Faults so far: drop, delay, duplicate, reorder (random latency), crashed validators, and a
/// partition that heals. (Byzantine equivocators, twins, lying proposers and crash-restart with
/// durable signer state come next: Protocol/CONSENSUS.md lists them.)
final class Simulator {
    struct Node {
        var machine: ConsensusMachine
        var state: LedgerState
        var committed: [UInt64: Bytes32] = [:]
        var blocks: [UInt64: Block] = [:]
        var certificates: [UInt64: CommitCertificate] = [:]
        var crashed = false
        /// Every (height, round, step) this node signed, with the block: to catch double-signing.
        var signed: [String: Bytes32?] = [:]
        /// What it signed at its current height, re-gossiped until delivered (drops are not forever).
        var outbox: [ConsensusInput] = []
    }

    struct Event {
        var time: UInt64
        var sequence: UInt64
        var node: Int
        var input: ConsensusInput
    }

    struct Faults {
        var dropRate = 0.0
        var duplicateRate = 0.0
        var minimumDelay: UInt64 = 5
        var maximumDelay: UInt64 = 50
        var crashed: Set<Int> = []
        /// Until this time, messages between the two halves are dropped.
        var partitionUntil: UInt64 = 0
    }

    let chainID = "medledger-sim"
    var nodes: [Node] = []
    var queue: [Event] = []
    var sequence: UInt64 = 0
    var now: UInt64 = 0
    var rng: SplitMix64
    let faults: Faults
    var violations: [String] = []
    let keys: [Ed25519.PrivateKey]

    init(validators count: Int, seed: UInt64, faults: Faults = Faults(), machineFaults: ConsensusMachine.Faults = .init()) throws {
        rng = SplitMix64(seed: seed)
        self.faults = faults
        keys = (0..<count).map { try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("sim validator \($0)".utf8)).bytes)) }
        let facilities = keys.enumerated().map { index, key in
            Facility(
                name: "facility \(index)", kind: .hospital, organisationKey: Bytes32(SHA256.hash(Array("org \(index)".utf8)).bytes)!,
                validatorKey: key.publicKey.wire, nodeKey: Bytes32(SHA256.hash(Array("node \(index)".utf8)).bytes)!,
                recordKey: Bytes32(SHA256.hash(Array("box \(index)".utf8)).bytes)!, power: 10)
        }
        let genesis = try Genesis(chainID: chainID, genesisTime: 1_000_000, facilities: facilities)
        let state = try LedgerState(genesis: genesis)
        for index in 0..<count {
            var machine = ConsensusMachine(
                chainID: chainID, validators: state.validators, key: keys[index], height: 1, lastCommit: nil,
                lastBlockTime: genesis.genesisTime)
            machine.inject(machineFaults)
            nodes.append(Node(machine: machine, state: state, crashed: faults.crashed.contains(index)))
        }
    }

    func schedule(_ node: Int, _ input: ConsensusInput, after delay: UInt64) {
        sequence += 1
        queue.append(Event(time: now + delay, sequence: sequence, node: node, input: input))
    }

    func chance(_ p: Double) -> Bool { p > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < p }

    func send(from: Int, _ input: ConsensusInput) {
        for to in nodes.indices where to != from {
            if now < faults.partitionUntil, (from < nodes.count / 2) != (to < nodes.count / 2) { continue }
            if chance(faults.dropRate) { continue }
            let span = faults.maximumDelay - faults.minimumDelay
            schedule(to, input, after: faults.minimumDelay + (span > 0 ? rng.next() % span : 0))
            if chance(faults.duplicateRate) { schedule(to, input, after: faults.maximumDelay + rng.next() % 100) }
        }
    }

    func perform(_ node: Int, _ actions: [ConsensusAction]) {
        for action in actions {
            switch action {
            case .broadcastProposal(let proposal):
                record(node, "\(proposal.height)/\(proposal.round)/propose", proposal.blockHash)
                nodes[node].outbox.append(.proposal(proposal))
                send(from: node, .proposal(proposal))
            case .broadcastVote(let vote):
                record(node, "\(vote.height)/\(vote.round)/\(vote.voteType.rawValue)", vote.blockHash)
                nodes[node].outbox.append(.vote(vote))
                send(from: node, .vote(vote))
            case .scheduleTimeout(let timeout, let delay):
                schedule(node, .timeout(timeout), after: delay)
            case .persistSignerState(let state):
                schedule(node, .signerStateDurable(state), after: 1)
            case .buildBlock(let height, let round):
                let machine = nodes[node].machine
                let proposer = nodes[node].state.validators.validators[machine.proposer(height: height, round: round)].key
                if let (block, _) = try? nodes[node].state.proposeBlock(transactions: [], lastCommit: machine.previousCommit, proposer: proposer) {
                    schedule(node, .blockToPropose(height: height, round: round, block: block), after: 1)
                }
            case .validate(let block):
                let valid = (try? nodes[node].state.applying(block)) != nil
                schedule(node, .validity(blockHash: block.header.hash, valid: valid), after: 2)
            case .fetchBlock(let height, let hash):
                // Any node that committed it serves it.
                if let source = nodes.firstIndex(where: { $0.committed[height] == hash }),
                    let block = nodes[source].blocks[height]
                {
                    schedule(node, .fetchedBlock(block), after: 20)
                }
            case .commit(let committed):
                let height = committed.block.header.height
                do {
                    try nodes[node].state.validators.verify(committed.commit, height: height, blockHash: committed.block.header.hash, chainID: chainID)
                    nodes[node].state = try nodes[node].state.applying(committed.block)
                } catch {
                    violations.append("node \(node) committed an invalid block at \(height): \(error)")
                }
                nodes[node].committed[height] = committed.block.header.hash
                nodes[node].blocks[height] = committed.block
                nodes[node].certificates[height] = committed.commit
                for other in nodes.indices where other != node {
                    if let theirs = nodes[other].committed[height], theirs != committed.block.header.hash {
                        violations.append("agreement: nodes \(node) and \(other) committed different blocks at height \(height)")
                    }
                }
                nodes[node].outbox = []
                schedule(node, .blockDurable(height: height), after: 3)
            case .evidence:
                break
            }
        }
    }

    func record(_ node: Int, _ slot: String, _ hash: Bytes32?) {
        if let previous = nodes[node].signed[slot], previous != hash {
            violations.append("node \(node) signed two different messages at \(slot)")
        }
        nodes[node].signed[slot] = hash
    }

    /// Gossip, as a node's peers would: every interval each live node re-sends what it signed at
    /// its height, and a node that is behind gets the committed block from one that is ahead
    /// (block sync). Both go through the same lossy network.
    static let gossipInterval: UInt64 = 500

    func gossip() {
        for index in nodes.indices where !nodes[index].crashed {
            for input in nodes[index].outbox { send(from: index, input) }
            let height = nodes[index].machine.height
            if let source = nodes.indices.first(where: { !nodes[$0].crashed && nodes[$0].committed[height] != nil }),
                let block = nodes[source].blocks[height], let certificate = nodes[source].certificates[height],
                nodes[index].committed[height] == nil, !chance(faults.dropRate)
            {
                schedule(index, .syncedBlock(CommittedBlock(block: block, commit: certificate)), after: faults.minimumDelay)
            }
        }
        sequence += 1
        queue.append(Event(time: now + Self.gossipInterval, sequence: sequence, node: -1, input: .blockDurable(height: 0)))
    }

    /// Runs until every live node committed `heights` blocks or virtual time runs out.
    func run(heights: UInt64, until limit: UInt64) {
        for index in nodes.indices where !nodes[index].crashed {
            perform(index, nodes[index].machine.start(now: now))
        }
        gossip()
        while !queue.isEmpty, now < limit {
            let next = queue.indices.min { (queue[$0].time, queue[$0].sequence) < (queue[$1].time, queue[$1].sequence) }!
            let event = queue.remove(at: next)
            now = Swift.max(now, event.time)
            if event.node < 0 {
                gossip()
                continue
            }
            guard !nodes[event.node].crashed else { continue }
            perform(event.node, nodes[event.node].machine.handle(event.input, now: now))
            if nodes.indices.filter({ !nodes[$0].crashed }).allSatisfy({ UInt64(nodes[$0].committed.count) >= heights }) { return }
        }
    }

    var liveNodes: [Int] { nodes.indices.filter { !nodes[$0].crashed } }
}

