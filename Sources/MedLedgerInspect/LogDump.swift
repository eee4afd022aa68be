import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

/// `medledger-inspect log dump`: each block's header and its transactions, decoded.
///
/// A dump shows what is stored; it does not judge it (`log verify` does): signatures are not
/// checked, and a body that does not decode is shown with its error.
public enum LogDump {
    /// The name of a transaction type code; nil for an undefined one.
    public static func typeName(_ code: UInt16) -> String? { TransactionType(rawValue: code)?.name }

    /// A transaction as the ledger renders it (`VerifiedTransaction.json`: the envelope, `type` and
    /// `decoded_body`); one whose body does not decode has `decode_error` in place of the body.
    public static func transactionJSON(_ transaction: Transaction) -> JSONValue {
        do {
            let body = try TransactionBody.decode(type: transaction.txType, body: transaction.body)
            // Only for rendering: the ledger's own JSON, with the signature left unchecked.
            return VerifiedTransaction(uncheckedEnvelope: transaction, body: body).json
        } catch {
            guard case .object(var members) = transaction.json else { return transaction.json }
            members.insert(("type", typeName(transaction.txType).map { .string($0) } ?? .null), at: 1)
            members.append(("decode_error", decodeErrorJSON(error)))
            return .object(members)
        }
    }

    static func decodeErrorJSON(_ error: LedgerError) -> JSONValue {
        var members: [(String, JSONValue)] = [("error", .string(error.code.name)), ("reason", .string(error.reason))]
        if let wire = error.wireError {
            members += [("body_error", .string(wire.code.name)), ("offset", .int(wire.offset))]
        }
        return .object(members)
    }

    /// One line of `dump --json`: the block's header fields, where it is stored, its transactions.
    public static func json(_ committed: CommittedBlock, record: LogRecord) -> JSONValue {
        let block = committed.block
        let header = block.header
        return .object([
            ("height", .int(header.height)), ("hash", header.hash.json), ("time", .int(header.time)),
            ("proposer", header.proposer.json), ("previous_hash", header.previousHash.json),
            ("state_root", header.stateRoot.json), ("tx_count", .int(block.transactions.count)),
            ("evidence_count", .int(block.evidence.count)), ("commit_signatures", .int(committed.commit.signatures.count)),
            ("segment", .string(record.segment.name)), ("offset", .int(record.offset)),
            ("transactions", .array(block.transactions.map(transactionJSON))),
        ])
    }

    /// The readable form of one block.
    public static func text(_ committed: CommittedBlock, record: LogRecord) -> String {
        let block = committed.block
        let header = block.header
        let codec = record.header.codec == .zlib ? "zlib" : "stored as is"
        var lines = ["block \(header.height)  \(header.hash.hex)"]
        lines += LogText.fields(
            [
                ("time", "\(header.time) (\(LogText.isoTime(ms: header.time)))"),
                ("proposer", header.proposer.hex),
                ("previous", header.previousHash.hex),
                ("state root", header.stateRoot.hex),
                (
                    "record",
                    "\(record.segment.name) offset \(record.offset): \(record.header.storedLength) bytes (\(codec)), \(record.header.inflatedLength) inflated"
                ),
                (
                    "commit",
                    "round \(committed.commit.round), \(LogText.count(committed.commit.signatures.count, "signature")); last commit: "
                        + (block.lastCommit.map { "height \($0.height), \(LogText.count($0.signatures.count, "signature"))" } ?? "none")
                ),
                ("evidence", String(block.evidence.count)),
                ("transactions", String(block.transactions.count)),
            ], indent: "  ")
        for (index, transaction) in block.transactions.enumerated() {
            let type = typeName(transaction.txType) ?? "unknown type \(transaction.txType)"
            lines.append("  [\(index)] \(type)  \(transaction.id.hex)")
            lines.append("      signer \(transaction.signer.hex)  nonce \(transaction.nonce)")
            do {
                let body = try TransactionBody.decode(type: transaction.txType, body: transaction.body)
                FrameInspection.tree(body.json, indent: "      ", into: &lines)
            } catch {
                lines.append("      body does not decode: \(LogText.safe(error.description))")
                FrameInspection.tree(.object([("body", .hex(transaction.body))]), indent: "      ", into: &lines)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Dumps the blocks from `from` through `to` (the end of the log when nil), one `emit` per
    /// block: a JSON line, or a readable block followed by a blank line.
    ///
    /// - Returns: how many blocks were dumped.
    /// - Throws: ``InspectError`` when the log holds none of the heights asked for;
    ///   ``LogProblem`` at a damaged record (the blocks before it have been emitted).
    @discardableResult
    public static func run(
        _ directory: LogDirectory, from: UInt64 = 1, through to: UInt64? = nil, json: Bool, emit: (String) -> Void
    ) throws -> Int {
        let chainID = try directory.chainID()
        var dumped = 0
        let walk = try directory.walk(chainID: chainID, fullFrom: from) { record throws(LogProblem) -> Bool in
            if let to, record.height > to { return false }
            guard record.height >= from else { return true }
            let block = try record.block()
            emit(json ? self.json(block, record: record).description : text(block, record: record) + "\n")
            dumped += 1
            return true
        }
        if dumped == 0 {
            throw InspectError(
                "no block in heights \(from) to \(to.map(String.init) ?? "the end"): the log holds "
                    + (walk.lastHeight == 0 ? "no blocks" : "heights 1 to \(walk.lastHeight)"),
                hint: walk.lastHeight == 0 ? nil : "--from and --to take heights from 1 to \(walk.lastHeight)")
        }
        return dumped
    }
}

/// `medledger-inspect log find`: where a transaction is, by its id.
public struct LogFound: Sendable {
    public var height: UInt64
    /// Its position in the block's transactions, from 0.
    public var index: Int
    public var transaction: Transaction
    public var blockTransactions: Int
    public var blockHash: Bytes32
    public var segment: String
    public var offset: UInt64

    public var text: String {
        let type = LogDump.typeName(transaction.txType) ?? "unknown type \(transaction.txType)"
        return (["height \(height) index \(index) (\(type), transaction \(index + 1) of \(blockTransactions))"]
            + LogText.fields(
                [
                    ("id", transaction.id.hex), ("signer", transaction.signer.hex), ("nonce", String(transaction.nonce)),
                    ("block", blockHash.hex), ("record", "\(segment) offset \(offset)"),
                ], indent: "  ")).joined(separator: "\n")
    }

    /// A transaction id as given: 64 hex digits, optionally with `0x`.
    public static func parseID(_ text: String) throws(InspectError) -> Bytes32 {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        guard let id = Bytes32(hex: digits.lowercased()) else {
            throw InspectError(
                "'\(LogText.safe(text))' is not a transaction id",
                hint: "a transaction id is 64 hex digits: the SHA-256 of the transaction (the `id` member of `log dump --json`)")
        }
        return id
    }

    /// Looks for transaction `id` in every block.
    ///
    /// - Returns: where it is, or nil, with the last height searched.
    /// - Throws: ``LogProblem`` at a damaged record before it was found.
    public static func find(_ id: Bytes32, in directory: LogDirectory) throws(LogProblem) -> (found: LogFound?, lastHeight: UInt64) {
        let chainID = try directory.chainID()
        var found: LogFound?
        let walk = try directory.walk(chainID: chainID) { record throws(LogProblem) -> Bool in
            let committed = try record.block()
            let transactions = committed.block.transactions
            guard let index = transactions.firstIndex(where: { $0.id == id }) else { return true }
            found = LogFound(
                height: record.height, index: index, transaction: transactions[index], blockTransactions: transactions.count,
                blockHash: committed.block.header.hash, segment: record.segment.name, offset: record.offset)
            return false
        }
        return (found, walk.lastHeight)
    }
}
