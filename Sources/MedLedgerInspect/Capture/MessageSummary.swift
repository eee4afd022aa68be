import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// The key fields of a decoded message, for one line of output: heights, rounds, vote types,
/// hashes and ids, request kinds. The full message is `medledger-inspect frame`'s job.
enum MessageSummary {
    static func fields(_ message: Message, messageBytes: [UInt8]) -> [(String, JSONValue)] {
        switch message {
        case .hello(let m):
            return [
                ("min_version", .int(m.minVersion)), ("max_version", .int(m.maxVersion)), ("channel", .string(m.channel.name)),
                ("chain_id", .string(m.chainID)), ("ephemeral_key", .string(m.ephemeralKey.hex)), ("nonce", .string(m.nonce.hex)),
            ]
        case .auth(let m):
            return [("node_key", .string(m.nodeKey.hex))]
        case .disconnect(let m):
            return [("code", .int(m.code)), ("reason_name", .string(DisconnectReason.name(ofCode: m.code))), ("reason", .string(m.reason))]
        case .ping(let m), .pong(let m):
            return [("nonce", .int(m.nonce))]
        case .status(let m):
            return [("height", .int(m.height)), ("block_hash", .string(m.blockHash.hex)), ("base_height", .int(m.baseHeight))]
        case .transaction(let m):
            return transactionFields(m, id: Bytes32(SHA256.hash(messageBytes).bytes)!)
        case .proposal(let m):
            return [
                ("height", .int(m.height)), ("round", .int(m.round)), ("pol_round", m.polRound.map { .int($0) } ?? .null),
                ("block_hash", .string(m.blockHash.hex)), ("transactions", .int(m.block.transactions.count)),
                ("proposer", .string(m.proposer.hex)),
            ]
        case .vote(let m):
            return voteFields(m)
        case .block(let m):
            return [
                ("height", .int(m.block.header.height)), ("round", .int(m.commit.round)), ("block_hash", .string(m.commit.blockHash.hex)),
                ("transactions", .int(m.block.transactions.count)),
            ]
        case .blockRequest(let m):
            return [("request_id", .int(m.requestID)), ("start_height", .int(m.startHeight)), ("count", .int(m.count))]
        case .blockResponse(let m):
            var fields: [(String, JSONValue)] = [("request_id", .int(m.requestID)), ("blocks", .int(m.blocks.count))]
            if let first = m.blocks.first, let last = m.blocks.last {
                fields.append(("heights", .array([.int(first.block.header.height), .int(last.block.header.height)])))
            }
            return fields
        case .evidence(let m):
            return [("kind", .string(m.kind.name))] + voteFields(m.voteA).filter { $0.0 != "block_hash" }
        case .recordBlob(let m):
            return [("record", .string(m.record.hex)), ("offset", .int(m.offset)), ("total", .int(m.total)), ("chunk_length", .int(m.chunk.count))]
        case .recordBlobRequest(let m):
            return [("record", .string(m.record.hex))]
        case .clientRequest(let m):
            var fields: [(String, JSONValue)] = [
                ("request_id", .int(m.requestID)), ("kind", kindName(m.request.kind)), ("signer", .string(m.request.signer.hex)),
            ]
            if m.request.kind == ClientRequestKind.submitTransaction.rawValue,
                let transaction = try? Transaction(canonicalBytes: m.request.body)
            {
                fields += transactionFields(transaction, id: Bytes32(SHA256.hash(m.request.body).bytes)!).map { ("tx_" + $0.0, $0.1) }
            }
            return fields
        case .clientResponse(let m):
            return [("request_id", .int(m.requestID)), ("kind", kindName(m.kind)), ("body_length", .int(m.body.count))]
        case .clientError(let m):
            return [("request_id", .int(m.requestID)), ("code", .int(m.code)), ("message", .string(m.message))]
        case .clientEvent(let m):
            return [("subscription_id", .int(m.subscriptionID)), ("kind", .int(m.kind)), ("body_length", .int(m.body.count))]
        }
    }

    static func voteFields(_ vote: Vote) -> [(String, JSONValue)] {
        [
            ("vote_type", .string(vote.voteType.name)), ("height", .int(vote.height)), ("round", .int(vote.round)),
            ("block_hash", vote.blockHash.map { .string($0.hex) } ?? .null), ("validator", .string(vote.validator.hex)),
        ]
    }

    static func transactionFields(_ transaction: Transaction, id: Bytes32) -> [(String, JSONValue)] {
        let type: JSONValue = TransactionType(rawValue: transaction.txType).map { .string($0.name) } ?? .int(transaction.txType)
        return [("id", .string(id.hex)), ("type", type), ("signer", .string(transaction.signer.hex)), ("nonce", .int(transaction.nonce))]
    }

    static func kindName(_ kind: UInt16) -> JSONValue {
        ClientRequestKind(rawValue: kind).map { .string($0.description) } ?? .int(kind)
    }

    /// The heights a message is about, for `--height`.
    static func heights(_ message: Message) -> [ClosedRange<UInt64>] {
        switch message {
        case .status(let m): [m.height...m.height]
        case .proposal(let m): [m.height...m.height]
        case .vote(let m): [m.height...m.height]
        case .block(let m): [m.block.header.height...m.block.header.height]
        case .blockRequest(let m):
            m.count == 0 ? [] : [m.startHeight...(m.startHeight &+ UInt64(m.count) &- 1 < m.startHeight ? UInt64.max : m.startHeight &+ UInt64(m.count) &- 1)]
        case .blockResponse(let m): m.blocks.map { $0.block.header.height...$0.block.header.height }
        case .evidence(let m): [m.voteA.height...m.voteA.height]
        default: []
        }
    }
}
