import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire
import Testing

/// One machine driven by hand: the signer state across a restart, and the lock.
@Suite("consensus machine: restart and locks")
struct MachineTests {
    static let chainID = "medledger-machine-test"

    struct Fixture {
        let keys: [Ed25519.PrivateKey]
        let state: LedgerState
        var validators: ValidatorSet { state.validators }

        init() throws {
            keys = (0..<4).map { try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("machine test \($0)".utf8)).bytes)) }
            let facilities = keys.enumerated().map { index, key in
                Facility(
                    name: "facility \(index)", kind: .hospital, organisationKey: Bytes32(SHA256.hash(Array("org \(index)".utf8)).bytes)!,
                    validatorKey: key.publicKey.wire, nodeKey: Bytes32(SHA256.hash(Array("node \(index)".utf8)).bytes)!,
                    recordKey: Bytes32(SHA256.hash(Array("box \(index)".utf8)).bytes)!, power: 10)
            }
            state = try LedgerState(genesis: Genesis(chainID: MachineTests.chainID, genesisTime: 1_000_000, facilities: facilities))
        }

        func machine(_ index: Int, signer: SignerState = .initial) -> ConsensusMachine {
            ConsensusMachine(
                chainID: MachineTests.chainID, validators: validators, key: keys[index], height: 1, lastCommit: nil,
                lastBlockTime: 1_000_000, signer: signer)
        }

        /// Block proposed by validator `proposer` at height 1, signed as round `round`'s proposal.
        func proposal(by proposer: Int, round: UInt32, polRound: UInt32? = nil) throws -> Proposal {
            let (block, _) = try state.proposeBlock(transactions: [], lastCommit: nil, proposer: keys[proposer].publicKey.wire)
            var proposal = Proposal(
                height: 1, round: round, polRound: polRound, blockHash: block.header.hash, timestamp: 1_000_100,
                proposer: keys[proposer].publicKey.wire, signature: Bytes64(repeating: 0), block: block)
            proposal.signature = Bytes64(keys[proposer].signature(for: .proposal, chainID: MachineTests.chainID, message: proposal.signedBytes).bytes)!
            return proposal
        }

        func vote(_ type: VoteType, by validator: Int, round: UInt32, for hash: Bytes32?) -> Vote {
            var vote = Vote(
                voteType: type, height: 1, round: round, blockHash: hash, timestamp: 1_000_200, validator: keys[validator].publicKey.wire,
                signature: Bytes64(repeating: 0))
            vote.signature = Bytes64(keys[validator].signature(for: .vote, chainID: MachineTests.chainID, message: vote.signedBytes).bytes)!
            return vote
        }
    }

    /// Feeds `input`, then plays the runtime: acknowledges every signer state at once and judges
    /// every block valid. Returns every action, and the newest signer state made durable.
    static func drive(_ machine: inout ConsensusMachine, _ inputs: [ConsensusInput], _ durable: inout SignerState) -> [ConsensusAction] {
        var all: [ConsensusAction] = []
        var pending = inputs
        while !pending.isEmpty {
            let actions = machine.handle(pending.removeFirst(), now: 1_000_500)
            all += actions
            for action in actions {
                switch action {
                case .persistSignerState(let state):
                    durable = state
                    pending.append(.signerStateDurable(state))
                case .validate(let block): pending.append(.validity(blockHash: block.header.hash, valid: true))
                default: break
                }
            }
        }
        return all
    }

    static func votes(_ actions: [ConsensusAction]) -> [Vote] {
        actions.compactMap { if case .broadcastVote(let vote) = $0 { vote } else { nil } }
    }

    static func persisted(_ actions: [ConsensusAction]) -> [SignerState] {
        actions.compactMap { if case .persistSignerState(let state) = $0 { state } else { nil } }
    }

    @Test("a restarted validator sends the votes it signed again, and signs nothing at or below its signer state")
    func restartResendsAndRefuses() throws {
        let fixture = try Fixture()
        var machine = fixture.machine(0)
        var durable = SignerState.initial
        _ = machine.start(now: 1_000_000)
        // Round 0 of height 1 is validator 1's: its proposal; validator 0 prevotes it.
        let proposal = try fixture.proposal(by: 1, round: 0)
        let first = Self.drive(&machine, [.proposal(proposal)], &durable)
        let prevotes = Self.votes(first)
        #expect(prevotes.count == 1)
        #expect(prevotes.first?.blockHash == proposal.blockHash)
        #expect(durable.votes == prevotes, "the signer state carries the vote")
        #expect((durable.height, durable.round, durable.step) == (1, 0, .prevote))

        // Crash. The new machine starts from the durable state.
        var restarted = fixture.machine(0, signer: durable)
        let start = restarted.start(now: 1_000_600)
        #expect(Self.votes(start) == prevotes, "the prevote goes out again, unchanged")
        #expect(Self.persisted(start).isEmpty)
        // The proposal again, and the propose timeout: nothing new is signed at (1, 0, prevote).
        var again = durable
        let more = Self.drive(&restarted, [.proposal(proposal), .timeout(Timeout(height: 1, round: 0, step: .propose))], &again)
        #expect(!Self.persisted(more).contains { ($0.height, $0.round, $0.step) <= (1, 0, .prevote) })
        #expect(Self.votes(more).filter { $0.voteType == .prevote && $0.round == 0 }.isEmpty)
    }

    @Test("the lock survives a restart: a validator that precommitted a block prevotes nil for another one later")
    func lockSurvivesRestart() throws {
        let fixture = try Fixture()
        var machine = fixture.machine(0)
        var durable = SignerState.initial
        _ = machine.start(now: 1_000_000)
        let x = try fixture.proposal(by: 1, round: 0)
        // A polka for X: validator 0 locks on it and precommits it.
        let polka = [1, 2, 3].map { ConsensusInput.vote(fixture.vote(.prevote, by: $0, round: 0, for: x.blockHash)) }
        let actions = Self.drive(&machine, [.proposal(x)] + polka, &durable)
        #expect(Self.votes(actions).contains { $0.voteType == .precommit && $0.blockHash == x.blockHash })
        #expect(durable.lockedRound == 0 && durable.lockedHash == x.blockHash)

        // Crash and restart, then round 1 (validator 2's): a different block, with no proof of
        // lock. Without the lock it would prevote Y; with it, nil.
        var restarted = fixture.machine(0, signer: durable)
        var after = durable
        _ = restarted.start(now: 1_000_700)
        let skip = [1, 2].map { ConsensusInput.vote(fixture.vote(.precommit, by: $0, round: 0, for: nil)) }
            + [2, 3].map { ConsensusInput.vote(fixture.vote(.prevote, by: $0, round: 1, for: nil)) }
        let y = try fixture.proposal(by: 2, round: 1)
        #expect(y.blockHash != x.blockHash)
        let round1 = Self.drive(&restarted, skip + [.proposal(y)], &after)
        #expect(restarted.round == 1)
        let prevote = Self.votes(round1).first { $0.voteType == .prevote && $0.round == 1 }
        #expect(prevote != nil)
        #expect(prevote?.blockHash == nil, "a locked validator must not prevote another block")

        // The negative control: the same history with the locking rule broken prevotes Y.
        var broken = fixture.machine(0, signer: durable)
        var faults = ConsensusMachine.Faults()
        faults.ignoreLocks = true
        broken.inject(faults)
        var brokenDurable = durable
        _ = broken.start(now: 1_000_700)
        let brokenVotes = Self.votes(Self.drive(&broken, skip + [.proposal(y)], &brokenDurable))
        #expect(brokenVotes.first { $0.voteType == .prevote && $0.round == 1 }?.blockHash == y.blockHash)
    }

    @Test("a signer state with the most votes it may hold survives the file; one vote more is refused")
    func signerStateFile() throws {
        let fixture = try Fixture()
        let votes = (0..<UInt32(SignerState.maxVotes)).map { fixture.vote($0 % 2 == 0 ? .prevote : .precommit, by: 0, round: $0 / 2, for: nil) }
        let state = SignerState(height: 1, round: 31, step: .precommit, blockHash: nil, lockedRound: 3, lockedHash: Bytes32(repeating: 7), votes: votes)
        let fs = SimulatedFileSystem(seed: 9)
        try fs.createDirectoryDurably("/node")
        let file = SignerStateFile(directory: "/node", fileSystem: fs)
        try file.save(state.canonicalBytes)
        fs.crash(seed: 9)
        let loaded = try #require(try file.load())
        #expect(try SignerState(canonicalBytes: loaded) == state)

        var tooMany = state
        tooMany.votes.append(fixture.vote(.prevote, by: 0, round: 32, for: nil))
        #expect(throws: WireError.self) { try SignerState(canonicalBytes: tooMany.canonicalBytes) }
    }
}
