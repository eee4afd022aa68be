import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

/// `medledger-inspect log verify`: every check of Protocol/LOG.md section 8, reading the files
/// directly (never through `SegmentLog.open`, which would cut a torn tail off): so it runs on a
/// log that `open` refuses, and it never changes the directory.
///
/// For every record, in order: what opening checks (segment headers, start heights, record
/// headers, the CRC, the height sequence), then that it inflates to exactly its inflated length and
/// decodes as a canonical CommittedBlock of the record's height and the log's chain; that the
/// record's previous block hash is the previous block's hash and the header's `previous_hash`;
/// `transactions_root`, `evidence_root` and `last_commit_hash`; and that the stored certificate
/// names this block. With a genesis, also: the chain id; `validators_hash`; every commit
/// certificate (the block's own and its `last_commit`) against the genesis validator set
/// (Protocol/LEDGER.md section 4); and that every transaction decodes and its signature verifies.
/// The first failure ends the run.
public struct LogVerification: Sendable {
    public var directory: String
    public var chainID: String?
    /// Whether certificates were checked against a genesis.
    public var withGenesis: Bool
    public var segments: Int
    /// Blocks that passed every check, from height 1.
    public var blocks: UInt64 = 0
    public var transactions = 0
    /// Commit certificates verified against the genesis validator set.
    public var certificates = 0
    public var validators = 0
    public var totalPower: UInt64 = 0
    /// The index, judged once the records were walked (nil when the walk failed).
    public var index: LogIndexStatus?
    public var quarantined: Int
    /// The first failure; nil when everything passed.
    public var problem: LogProblem?

    public var passed: Bool { problem == nil }

    /// Reads a genesis file (Protocol/LEDGER.md section 2).
    ///
    /// - Throws: an ``InspectError`` naming the file and what is wrong with it.
    public static func loadGenesis(_ path: String) throws(InspectError) -> Genesis {
        let hint = "pass the genesis JSON the chain started from (Protocol/LEDGER.md section 2), e.g. Protocol/vectors/log/genesis.json"
        guard let status = FileStatus(path) else { throw InspectError("cannot read the genesis file \(path): no such file", hint: hint) }
        guard !status.isDirectory else { throw InspectError("the genesis file \(path) is a directory", hint: hint) }
        let bytes: [UInt8]
        do {
            bytes = try ReadOnlyFile(path).readAll()
        } catch {
            throw InspectError("cannot read the genesis file \(path): \(error.message)", hint: hint)
        }
        do {
            return try Genesis(json: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw InspectError("\(path) is not a valid genesis file: \(error.reason)", hint: hint)
        }
    }

    /// Verifies the log in `directory`; with `genesis`, its certificates and signatures too.
    public init(_ directory: LogDirectory, genesis: Genesis? = nil) {
        self.directory = directory.path
        withGenesis = genesis != nil
        segments = directory.segments.count
        quarantined = directory.quarantine.count
        let chainID: String
        do {
            chainID = try directory.chainID()
        } catch {
            problem = error
            return
        }
        self.chainID = chainID
        var validatorSet: ValidatorSet?
        if let genesis {
            guard genesis.chainID == chainID else {
                problem = LogProblem(
                    .wrongFormat, "the log is of chain \(chainID), but the genesis is of chain \(genesis.chainID)",
                    path: directory.segments[0].path, offset: 16,
                    hint: "pass the genesis of the chain this log holds")
                return
            }
            // A Genesis value has been validated, so its set is sound.
            validatorSet = try? genesis.validatorSet
            validators = validatorSet?.validators.count ?? 0
            totalPower = validatorSet?.totalPower ?? 0
        }
        var previousHash = Bytes32.zero
        var blocks: UInt64 = 0
        var transactions = 0
        var certificates = 0
        do {
            let walk = try directory.walk(chainID: chainID) { record throws(LogProblem) -> Bool in
                let (hash, count, checked) = try Self.check(record, chainID: chainID, previousHash: previousHash, validators: validatorSet)
                previousHash = hash
                blocks += 1
                transactions += count
                certificates += checked
                return true
            }
            index = LogIndexStatus.check(directory, scans: walk.scans)
        } catch {
            problem = error
        }
        self.blocks = blocks
        self.transactions = transactions
        self.certificates = certificates
    }

    /// The checks of one record beyond its CRC; returns the block's hash, its transaction count
    /// and the number of certificates verified.
    static func check(
        _ record: LogRecord, chainID: String, previousHash: Bytes32, validators: ValidatorSet?
    ) throws(LogProblem) -> (Bytes32, Int, Int) {
        let height = record.height
        func fail(_ kind: LogProblem.Kind, _ message: String) -> LogProblem {
            LogProblem(kind, message, path: record.segment.path, offset: record.offset, height: height)
        }
        let committed = try record.block()
        let block = committed.block
        let header = block.header
        guard header.height == height else {
            throw fail(.corrupt, "the record of height \(height) holds the block of height \(header.height)")
        }
        guard header.chainID == chainID else {
            throw fail(.invalidBlock, "the block is of chain \(header.chainID), the log of chain \(chainID)")
        }
        guard record.header.previousHash == previousHash else {
            throw fail(
                .invalidBlock,
                height == 1
                    ? "the record's previous block hash is \(record.header.previousHash.hex), not zeros"
                    : "the record's previous block hash \(record.header.previousHash.hex) is not the hash of block \(height - 1), \(previousHash.hex)")
        }
        guard header.previousHash == record.header.previousHash else {
            throw fail(.invalidBlock, "the block's previous_hash \(header.previousHash.hex) is not its record header's \(record.header.previousHash.hex)")
        }
        guard header.transactionsRoot == LedgerState.transactionsRoot(block.transactions) else {
            throw fail(.invalidBlock, "transactions_root does not match the block's \(LogText.count(block.transactions.count, "transaction"))")
        }
        guard header.evidenceRoot == LedgerState.evidenceRoot(block.evidence) else {
            throw fail(.invalidBlock, "evidence_root does not match the block's evidence")
        }
        guard header.lastCommitHash == LedgerState.commitHash(block.lastCommit) else {
            throw fail(.invalidBlock, "last_commit_hash does not match the block's last commit")
        }
        let hash = header.hash
        guard committed.commit.height == height, committed.commit.blockHash == hash else {
            throw fail(
                .invalidCommit,
                "the certificate stored with the block decides block \(committed.commit.blockHash.hex) at height \(committed.commit.height), not this one (\(hash.hex))")
        }
        guard let validators else { return (hash, block.transactions.count, 0) }

        guard header.validatorsHash == validators.hash, header.nextValidatorsHash == validators.hash else {
            throw fail(.invalidBlock, "validators_hash is not the hash of the genesis validator set")
        }
        var certificates = 0
        if height == 1 {
            guard block.lastCommit == nil else { throw fail(.invalidBlock, "block 1 carries a last commit") }
        } else {
            guard let lastCommit = block.lastCommit else {
                throw fail(.invalidBlock, "the block has no last_commit: block \(height) needs the certificate of block \(height - 1)")
            }
            do {
                try validators.verify(lastCommit, height: height - 1, blockHash: previousHash, chainID: chainID)
            } catch {
                throw fail(.invalidCommit, "its last_commit (the certificate of block \(height - 1)): \(error.reason)")
            }
            certificates += 1
        }
        do {
            try validators.verify(committed.commit, height: height, blockHash: hash, chainID: chainID)
        } catch {
            throw fail(.invalidCommit, "the block's commit certificate: \(error.reason)")
        }
        certificates += 1
        do {
            _ = try LedgerState.verify(block.transactions, chainID: chainID)
        } catch {
            throw fail(.invalidBlock, error.description)
        }
        return (hash, block.transactions.count, certificates)
    }

    static func hint(for problem: LogProblem) -> String {
        switch problem.kind {
        case .tornWrite:
            return "after the index's durable frontier, so a write cut short by a crash: opening the log (starting the node) moves the bytes from here on to quarantine/ and cuts the log here, keeping the blocks before it"
        case .wrongFormat:
            return "this file is not a segment of this chain and format (Protocol/LOG.md section 2)"
        case .unreadable:
            return "check the file's permissions"
        case .corrupt, .invalidBlock, .invalidCommit:
            guard let height = problem.height, height > 1 else {
                return "the node refuses to start on this log; compare the file with a peer's copy"
            }
            return "the node refuses to start on this log. Keep a copy, cut it after height \(height - 1) "
                + "(medledger-inspect log repair DIR --truncate-after \(height - 1), Protocol/LOG.md section 7) "
                + "and fetch the later blocks from a peer"
        }
    }

    public var text: String {
        guard let problem else {
            let certificates =
                withGenesis
                ? "\(certificates) verified against the genesis validator set (\(LogText.count(validators, "validator")), total power \(totalPower)); every transaction decodes and its signature verifies"
                : "each names its block; signatures not checked (pass --genesis FILE to verify them)"
            let range = blocks == 0 ? "none" : "\(blocks), heights 1 to \(blocks)"
            return
                (["verified: \(directory)"]
                + LogText.fields(
                    [
                        ("chain", chainID! + (withGenesis ? ", as in the genesis" : "")),
                        ("segments", String(segments)),
                        ("blocks", "\(range), \(LogText.count(transactions, "transaction"))"),
                        (
                            "records",
                            "CRC, inflated length, canonical decoding, height sequence, hash links, transactions_root, evidence_root, last_commit_hash: all sound"
                        ),
                        ("certificates", certificates),
                        ("index", index?.text ?? "-"),
                        ("quarantine", quarantined == 0 ? "empty" : "\(LogText.count(quarantined, "file")) (never read back)"),
                    ], indent: "  ")).joined(separator: "\n")
        }
        var pairs: [(String, String)] = []
        if !problem.location.isEmpty { pairs.append(("at", problem.location)) }
        pairs.append(("before it", blocks == 0 ? "no block passed" : "blocks 1 to \(blocks) passed every check"))
        pairs.append(("hint", problem.hint ?? Self.hint(for: problem)))
        return (["FAILED: \(directory)", "  \(problem.kind.rawValue): \(LogText.safe(problem.message))"]
            + LogText.fields(pairs, indent: "  ")).joined(separator: "\n")
    }
}
