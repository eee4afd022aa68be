import MedLedgerLedger
import MedLedgerWire

/// The three steps of a round (Protocol/CONSENSUS.md).
public enum Step: UInt8, Sendable, Comparable, CaseIterable {
    case propose = 1
    case prevote = 2
    case precommit = 3

    public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
}

/// A timeout the runtime fires back as an input after ``ConsensusAction/scheduleTimeout(_:afterMilliseconds:)``.
public struct Timeout: Hashable, Sendable {
    public var height: UInt64
    public var round: UInt32
    public var step: Step

    public init(height: UInt64, round: UInt32, step: Step) {
        self.height = height
        self.round = round
        self.step = step
    }
}

/// What a validator last signed: persisted before any signature leaves, so that after a crash it
/// can never sign a conflicting vote or proposal (Protocol/CONSENSUS.md, "Validator safety").
public struct SignerState: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var round: UInt32
    public var step: Step
    /// The block signed at that step; nil for a nil vote.
    public var blockHash: Bytes32?
    /// The lock held when signing (a precommit for a block locks on it): kept so that a restarted
    /// validator still honours it.
    public var lockedRound: UInt32?
    public var lockedHash: Bytes32?
    /// The votes signed at `height`, oldest first, at most ``maxVotes`` (the newest): a restarted
    /// validator sends them again, because peers may need them to reach a quorum (a vote lost in a
    /// crash would otherwise be lost for good, and with it the round).
    public var votes: [Vote]

    /// Two votes per round over the round window.
    public static let maxVotes = 64

    public init(
        height: UInt64, round: UInt32, step: Step, blockHash: Bytes32?, lockedRound: UInt32? = nil, lockedHash: Bytes32? = nil,
        votes: [Vote] = []
    ) {
        self.height = height
        self.round = round
        self.step = step
        self.blockHash = blockHash
        self.lockedRound = lockedRound
        self.lockedHash = lockedHash
        self.votes = votes
    }

    /// The state of a validator that never signed.
    public static let initial = SignerState(height: 0, round: 0, step: .propose, blockHash: nil)

    /// Whether signing at (height, round, step) would not go back past this state: it comes
    /// strictly after it.
    public func allows(height: UInt64, round: UInt32, step: Step) -> Bool {
        (height, round, step.rawValue) > (self.height, self.round, self.step.rawValue)
    }

    /// Whether `other` is at or before this state (so this state covers it).
    public func covers(_ other: SignerState) -> Bool {
        !allows(height: other.height, round: other.round, step: other.step)
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(round)
        writer.write(step.rawValue)
        writer.writeOptional(blockHash) { $0.write($1) }
        writer.writeOptional(lockedRound) { $0.write($1) }
        writer.writeOptional(lockedHash) { $0.write($1) }
        writer.writeList(votes)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        round = try reader.readU32("round")
        step = try reader.readEnum("step")
        blockHash = try reader.readOptional("block_hash") { r throws(WireError) in try Bytes32(from: &r) }
        lockedRound = try reader.readOptional("locked_round") { r throws(WireError) in try r.readU32("locked_round") }
        lockedHash = try reader.readOptional("locked_hash") { r throws(WireError) in try Bytes32(from: &r) }
        votes = try reader.readList(max: Self.maxVotes, "votes")
    }
}

/// Timing parameters: each timeout grows linearly with the round up to a cap, so that a network
/// that heals recovers in bounded time.
public struct ConsensusTimeouts: Hashable, Sendable {
    public var propose: UInt64 = 3000
    public var prevote: UInt64 = 1000
    public var precommit: UInt64 = 1000
    /// Added per round.
    public var delta: UInt64 = 500
    /// No timeout is longer.
    public var cap: UInt64 = 30_000

    public init() {}

    public func milliseconds(_ step: Step, round: UInt32) -> UInt64 {
        let base: UInt64 = step == .propose ? propose : step == .prevote ? prevote : precommit
        return Swift.min(cap, base + delta * UInt64(round))
    }
}

/// What the consensus machine is given.
public enum ConsensusInput: Sendable {
    /// A signed proposal from the network (or our own, echoed back).
    case proposal(Proposal)
    /// A signed vote from the network.
    case vote(Vote)
    /// A timeout the runtime scheduled fired.
    case timeout(Timeout)
    /// The block the runtime built for our proposal at (height, round).
    case blockToPropose(height: UInt64, round: UInt32, block: Block)
    /// The runtime's verdict on a proposed block: it re-executed it against the ledger.
    case validity(blockHash: Bytes32, valid: Bool)
    /// The signer state asked for is durable: the signatures waiting on it may leave.
    case signerStateDurable(SignerState)
    /// A decided block (and its certificate) is durable in the log: move to the next height.
    case blockDurable(height: UInt64)
    /// A block the machine asked for with ``ConsensusAction/fetchBlock(height:blockHash:)``.
    case fetchedBlock(Block)
    /// A committed block with its certificate, from block sync (a peer that is ahead): its
    /// precommits count as votes, so a node that missed them can still decide the height.
    case syncedBlock(CommittedBlock)
}

/// What the consensus machine asks the runtime to do, in order.
public enum ConsensusAction: Sendable, Equatable {
    case broadcastProposal(Proposal)
    case broadcastVote(Vote)
    case scheduleTimeout(Timeout, afterMilliseconds: UInt64)
    /// Make this durable, then feed ``ConsensusInput/signerStateDurable(_:)``.
    case persistSignerState(SignerState)
    /// Build the block to propose at (height, round), then feed ``ConsensusInput/blockToPropose(height:round:block:)``.
    case buildBlock(height: UInt64, round: UInt32)
    /// Re-execute this block, then feed ``ConsensusInput/validity(blockHash:valid:)``.
    case validate(Block)
    /// A quorum precommitted a block we do not have: fetch it from peers.
    case fetchBlock(height: UInt64, blockHash: Bytes32)
    /// Decided: make the block and its certificate durable, then feed ``ConsensusInput/blockDurable(height:)``.
    case commit(CommittedBlock)
    /// A validator equivocated.
    case evidence(Evidence)
}
