import MedLedgerCrypto

/// A block's header; its SHA-256 is the block hash (Protocol/WIRE.md 5.1).
public struct BlockHeader: Hashable, Sendable, WireCodable {
    /// The only block format version this code speaks.
    public static let currentVersion: UInt16 = 1

    public var version: UInt16
    public var chainID: String
    public var height: UInt64
    /// BFT time in ms: the median of the previous block's precommit times.
    public var time: UInt64
    public var previousHash: Bytes32
    public var lastCommitHash: Bytes32
    public var transactionsRoot: Bytes32
    public var evidenceRoot: Bytes32
    /// State after applying this block's own transactions.
    public var stateRoot: Bytes32
    public var validatorsHash: Bytes32
    public var nextValidatorsHash: Bytes32
    /// The proposer's Ed25519 validator key.
    public var proposer: Bytes32

    public init(
        version: UInt16 = BlockHeader.currentVersion, chainID: String, height: UInt64, time: UInt64,
        previousHash: Bytes32, lastCommitHash: Bytes32, transactionsRoot: Bytes32, evidenceRoot: Bytes32,
        stateRoot: Bytes32, validatorsHash: Bytes32, nextValidatorsHash: Bytes32, proposer: Bytes32
    ) {
        self.version = version
        self.chainID = chainID
        self.height = height
        self.time = time
        self.previousHash = previousHash
        self.lastCommitHash = lastCommitHash
        self.transactionsRoot = transactionsRoot
        self.evidenceRoot = evidenceRoot
        self.stateRoot = stateRoot
        self.validatorsHash = validatorsHash
        self.nextValidatorsHash = nextValidatorsHash
        self.proposer = proposer
    }

    /// SHA-256 of the canonical header.
    public var hash: Bytes32 { Bytes32(SHA256.hash(canonicalBytes).bytes)! }

    public func encode(to writer: inout ByteWriter) {
        writer.write(version)
        writer.write(chainID)
        writer.write(height)
        writer.write(time)
        for field in [
            previousHash, lastCommitHash, transactionsRoot, evidenceRoot, stateRoot, validatorsHash,
            nextValidatorsHash, proposer,
        ] {
            writer.write(field)
        }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let versionStart = reader.position
        version = try reader.readU16("block version")
        guard version == BlockHeader.currentVersion else {
            throw reader.error(
                .valueOutOfRange, at: versionStart,
                "block version \(version) is not supported; this node speaks \(BlockHeader.currentVersion)")
        }
        chainID = try reader.readChainID()
        height = try reader.readU64("height")
        time = try reader.readU64("time")
        previousHash = try Bytes32(from: &reader)
        lastCommitHash = try Bytes32(from: &reader)
        transactionsRoot = try Bytes32(from: &reader)
        evidenceRoot = try Bytes32(from: &reader)
        stateRoot = try Bytes32(from: &reader)
        validatorsHash = try Bytes32(from: &reader)
        nextValidatorsHash = try Bytes32(from: &reader)
        proposer = try Bytes32(from: &reader)
    }
}

/// A block: header, transactions, evidence and the previous block's certificate.
public struct Block: Hashable, Sendable, WireCodable {
    public var header: BlockHeader
    public var transactions: [Transaction]
    public var evidence: [Evidence]
    /// The certificate that decided the previous block; nil only at height 1.
    public var lastCommit: CommitCertificate?

    public init(
        header: BlockHeader, transactions: [Transaction], evidence: [Evidence], lastCommit: CommitCertificate?
    ) {
        self.header = header
        self.transactions = transactions
        self.evidence = evidence
        self.lastCommit = lastCommit
    }

    /// The canonical block, written into a buffer sized for it up front (no regrowth).
    public var canonicalBytes: [UInt8] {
        // Header and commit are under 2 KiB; each transaction is 110 fixed bytes plus its body.
        var size = 2048 + evidence.count * 512
        for transaction in transactions { size += 110 + transaction.body.count }
        var writer = ByteWriter(reservingCapacity: size)
        encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(header)
        writer.writeList(transactions)
        writer.writeList(evidence)
        writer.writeOptional(lastCommit) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        header = try BlockHeader(from: &reader)
        transactions = try reader.readList(max: WireLimits.blockTransactionsMax, "transactions")
        evidence = try reader.readList(max: WireLimits.blockEvidenceMax, "evidence")
        lastCommit = try reader.readOptional("last_commit") { r throws(WireError) in try CommitCertificate(from: &r) }
    }
}

/// A decided block with the certificate that decided it (`BLOCK`, and the elements of `BLOCK_RESPONSE`).
public struct CommittedBlock: Hashable, Sendable, WireCodable {
    public var block: Block
    public var commit: CommitCertificate

    public init(block: Block, commit: CommitCertificate) {
        self.block = block
        self.commit = commit
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(block)
        writer.write(commit)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        block = try Block(from: &reader)
        commit = try CommitCertificate(from: &reader)
    }
}

/// The sender's chain head (`STATUS`).
public struct Status: Hashable, Sendable, WireCodable {
    /// Latest committed height; 0 before the first block.
    public var height: UInt64
    /// Its hash; zeros at height 0.
    public var blockHash: Bytes32
    /// Lowest height the sender can serve.
    public var baseHeight: UInt64
    /// That block's time in ms.
    public var time: UInt64

    public init(height: UInt64, blockHash: Bytes32, baseHeight: UInt64, time: UInt64) {
        self.height = height
        self.blockHash = blockHash
        self.baseHeight = baseHeight
        self.time = time
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(blockHash)
        writer.write(baseHeight)
        writer.write(time)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        blockHash = try Bytes32(from: &reader)
        baseHeight = try reader.readU64("base_height")
        time = try reader.readU64("time")
    }
}

/// Asks for committed blocks from `startHeight` (`BLOCK_REQUEST`).
public struct BlockRequest: Hashable, Sendable, WireCodable {
    public var requestID: UInt64
    /// At least 1.
    public var startHeight: UInt64
    /// 1 to 64.
    public var count: UInt16

    public init(requestID: UInt64, startHeight: UInt64, count: UInt16) {
        self.requestID = requestID
        self.startHeight = startHeight
        self.count = count
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requestID)
        writer.write(startHeight)
        writer.write(count)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requestID = try reader.readU64("request_id")
        let heightStart = reader.position
        startHeight = try reader.readU64("start_height")
        guard startHeight >= 1 else {
            throw reader.error(.valueOutOfRange, at: heightStart, "start_height must be at least 1")
        }
        let countStart = reader.position
        count = try reader.readU16("count")
        guard (1...WireLimits.blockRequestCountMax).contains(count) else {
            throw reader.error(
                .valueOutOfRange, at: countStart, "count is \(count); 1 to \(WireLimits.blockRequestCountMax) allowed")
        }
    }
}

/// Committed blocks answering a `BLOCK_REQUEST` (`BLOCK_RESPONSE`).
public struct BlockResponse: Hashable, Sendable, WireCodable {
    public var requestID: UInt64
    /// Consecutive heights from the request's start; possibly fewer than asked, possibly none.
    public var blocks: [CommittedBlock]

    public init(requestID: UInt64, blocks: [CommittedBlock]) {
        self.requestID = requestID
        self.blocks = blocks
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requestID)
        writer.writeList(blocks)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requestID = try reader.readU64("request_id")
        blocks = try reader.readList(max: WireLimits.blockResponseBlocksMax, "blocks")
    }
}
