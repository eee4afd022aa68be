import MedLedgerCrypto

/// The two kinds of consensus vote.
public enum VoteType: UInt8, Sendable, CaseIterable {
    case prevote = 1
    case precommit = 2

    public var name: String {
        switch self {
        case .prevote: "prevote"
        case .precommit: "precommit"
        }
    }
}

/// A validator's prevote or precommit (Protocol/WIRE.md 5.1).
public struct Vote: Hashable, Sendable, WireCodable {
    public var voteType: VoteType
    public var height: UInt64
    public var round: UInt32
    /// The block voted for; nil is a vote for nil.
    public var blockHash: Bytes32?
    /// The validator's clock in ms; precommit times feed BFT time.
    public var timestamp: UInt64
    /// The validator's Ed25519 public key.
    public var validator: Bytes32
    /// Over tag `medledger/vote/v1`, the chain id and ``signedBytes``.
    public var signature: Bytes64

    public init(
        voteType: VoteType, height: UInt64, round: UInt32, blockHash: Bytes32?, timestamp: UInt64,
        validator: Bytes32, signature: Bytes64
    ) {
        self.voteType = voteType
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.timestamp = timestamp
        self.validator = validator
        self.signature = signature
    }

    /// The canonical bytes the signature covers: every field before it.
    public var signedBytes: [UInt8] {
        var writer = ByteWriter()
        encodeSignedFields(to: &writer)
        return writer.bytes
    }

    private func encodeSignedFields(to writer: inout ByteWriter) {
        writer.write(voteType.rawValue)
        writer.write(height)
        writer.write(round)
        writer.writeOptional(blockHash) { $0.write($1) }
        writer.write(timestamp)
        writer.write(validator)
    }

    public func encode(to writer: inout ByteWriter) {
        encodeSignedFields(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        voteType = try reader.readEnum("vote_type")
        height = try reader.readU64("height")
        round = try reader.readU32("round")
        blockHash = try reader.readOptional("block_hash") { r throws(WireError) in try Bytes32(from: &r) }
        timestamp = try reader.readU64("timestamp")
        validator = try Bytes32(from: &reader)
        signature = try Bytes64(from: &reader)
    }
}

/// The kinds of misbehaviour evidence.
public enum EvidenceKind: UInt8, Sendable, CaseIterable {
    case duplicateVote = 1

    public var name: String {
        switch self {
        case .duplicateVote: "duplicate_vote"
        }
    }
}

/// Proof that a validator equivocated: two conflicting votes (Protocol/WIRE.md 5.1).
///
/// Canonical order puts the vote with the bytewise smaller encoding first, so one pair of votes
/// has exactly one encoding.
public struct Evidence: Hashable, Sendable, WireCodable {
    public var kind: EvidenceKind
    public var voteA: Vote
    public var voteB: Vote

    /// Builds duplicate-vote evidence, putting the two votes in canonical order.
    public init(duplicateVote first: Vote, _ second: Vote) {
        kind = .duplicateVote
        if first.canonicalBytes.lexicographicallyPrecedes(second.canonicalBytes) {
            (voteA, voteB) = (first, second)
        } else {
            (voteA, voteB) = (second, first)
        }
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(kind.rawValue)
        writer.write(voteA)
        writer.write(voteB)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        kind = try reader.readEnum("evidence kind")
        let startA = reader.position
        voteA = try Vote(from: &reader)
        let bytesA = reader.bytes(from: startA)
        let startB = reader.position
        voteB = try Vote(from: &reader)
        guard bytesA.lexicographicallyPrecedes(reader.bytes(from: startB)) else {
            throw reader.error(.nonCanonical, at: startB, "evidence votes must be in bytewise order, smaller first")
        }
    }
}

/// One validator's precommit inside a commit certificate.
public struct CommitSignature: Hashable, Sendable, WireCodable {
    /// Position of the validator in the validator set.
    public var validatorIndex: UInt16
    /// The precommit's timestamp.
    public var timestamp: UInt64
    /// The precommit's signature.
    public var signature: Bytes64

    public init(validatorIndex: UInt16, timestamp: UInt64, signature: Bytes64) {
        self.validatorIndex = validatorIndex
        self.timestamp = timestamp
        self.signature = signature
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(validatorIndex)
        writer.write(timestamp)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        validatorIndex = try reader.readU16("validator_index")
        timestamp = try reader.readU64("timestamp")
        signature = try Bytes64(from: &reader)
    }
}

/// The quorum's precommits that decided one block (Protocol/WIRE.md 5.1).
public struct CommitCertificate: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var round: UInt32
    public var blockHash: Bytes32
    /// At least one; strictly increasing validator index.
    public var signatures: [CommitSignature]

    public init(height: UInt64, round: UInt32, blockHash: Bytes32, signatures: [CommitSignature]) {
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.signatures = signatures
    }

    /// The precommit vote that signature `signature` signed, given the validator's key.
    public func precommit(for signature: CommitSignature, validator: Bytes32) -> Vote {
        Vote(
            voteType: .precommit, height: height, round: round, blockHash: blockHash,
            timestamp: signature.timestamp, validator: validator, signature: signature.signature)
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(round)
        writer.write(blockHash)
        writer.writeList(signatures)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        round = try reader.readU32("round")
        blockHash = try Bytes32(from: &reader)
        let countStart = reader.position
        signatures = try reader.readList(max: WireLimits.commitSignaturesMax, "commit signatures") {
            $0.validatorIndex < $1.validatorIndex
        }
        guard !signatures.isEmpty else {
            throw reader.error(.valueOutOfRange, at: countStart, "a commit certificate needs at least one signature")
        }
    }
}

/// A proposer's block for one height and round (`PROPOSAL`, Protocol/WIRE.md 5.3).
public struct Proposal: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var round: UInt32
    /// The proof-of-lock round this block is re-proposed from; nil for a fresh block.
    public var polRound: UInt32?
    /// Hash of `block.header`.
    public var blockHash: Bytes32
    public var timestamp: UInt64
    /// The proposer's Ed25519 validator key.
    public var proposer: Bytes32
    /// Over tag `medledger/proposal/v1`, the chain id and ``signedBytes``.
    public var signature: Bytes64
    public var block: Block

    public init(
        height: UInt64, round: UInt32, polRound: UInt32?, blockHash: Bytes32, timestamp: UInt64,
        proposer: Bytes32, signature: Bytes64, block: Block
    ) {
        self.height = height
        self.round = round
        self.polRound = polRound
        self.blockHash = blockHash
        self.timestamp = timestamp
        self.proposer = proposer
        self.signature = signature
        self.block = block
    }

    /// The canonical bytes the signature covers: the six fields before it (not the block).
    public var signedBytes: [UInt8] {
        var writer = ByteWriter()
        encodeSignedFields(to: &writer)
        return writer.bytes
    }

    private func encodeSignedFields(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(round)
        writer.writeOptional(polRound) { $0.write($1) }
        writer.write(blockHash)
        writer.write(timestamp)
        writer.write(proposer)
    }

    public func encode(to writer: inout ByteWriter) {
        encodeSignedFields(to: &writer)
        writer.write(signature)
        writer.write(block)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        round = try reader.readU32("round")
        polRound = try reader.readOptional("pol_round") { r throws(WireError) in try r.readU32("pol_round") }
        blockHash = try Bytes32(from: &reader)
        timestamp = try reader.readU64("timestamp")
        proposer = try Bytes32(from: &reader)
        signature = try Bytes64(from: &reader)
        block = try Block(from: &reader)
    }
}

extension ByteReader {
    /// An `enum` field: one byte from the type's table.
    public mutating func readEnum<E: RawRepresentable>(_ what: String) throws(WireError) -> E
    where E.RawValue == UInt8 {
        let start = position
        let code = try readU8(what)
        guard let value = E(rawValue: code) else {
            throw error(.unknownEnum, at: start, "\(what) code \(code) is not defined")
        }
        return value
    }
}
