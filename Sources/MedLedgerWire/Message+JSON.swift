/// JSON renderings of frames and messages (Protocol/WIRE.md section 8), shared by the vectors and
/// `medledger-inspect --json`.
public protocol JSONRenderable {
    /// The value as WIRE.md section 8 renders it.
    var json: JSONValue { get }
}

extension Bytes32: JSONRenderable {
    public var json: JSONValue { .hex(bytes) }
}

extension Bytes64: JSONRenderable {
    public var json: JSONValue { .hex(bytes) }
}

extension Optional where Wrapped: JSONRenderable {
    var json: JSONValue { map(\.json) ?? .null }
}

extension Transaction: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("tx_type", .int(txType)), ("signer", signer.json), ("nonce", .int(nonce)), ("body", .hex(body)),
            ("signature", signature.json), ("id", id.json),
        ])
    }
}

extension Vote: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("vote_type", .string(voteType.name)), ("height", .int(height)), ("round", .int(round)),
            ("block_hash", blockHash.json), ("timestamp", .int(timestamp)), ("validator", validator.json),
            ("signature", signature.json),
        ])
    }
}

extension Evidence: JSONRenderable {
    public var json: JSONValue {
        .object([("kind", .string(kind.name)), ("vote_a", voteA.json), ("vote_b", voteB.json)])
    }
}

extension CommitSignature: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("validator_index", .int(validatorIndex)), ("timestamp", .int(timestamp)), ("signature", signature.json),
        ])
    }
}

extension CommitCertificate: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("height", .int(height)), ("round", .int(round)), ("block_hash", blockHash.json),
            ("signatures", .array(signatures.map(\.json))),
        ])
    }
}

extension BlockHeader: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("version", .int(version)), ("chain_id", .string(chainID)), ("height", .int(height)), ("time", .int(time)),
            ("previous_hash", previousHash.json), ("last_commit_hash", lastCommitHash.json),
            ("transactions_root", transactionsRoot.json), ("evidence_root", evidenceRoot.json),
            ("state_root", stateRoot.json), ("validators_hash", validatorsHash.json),
            ("next_validators_hash", nextValidatorsHash.json), ("proposer", proposer.json), ("hash", hash.json),
        ])
    }
}

extension Block: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("header", header.json), ("transactions", .array(transactions.map(\.json))),
            ("evidence", .array(evidence.map(\.json))), ("last_commit", lastCommit.json),
        ])
    }
}

extension CommittedBlock: JSONRenderable {
    public var json: JSONValue { .object([("block", block.json), ("commit", commit.json)]) }
}

extension Status: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("height", .int(height)), ("block_hash", blockHash.json), ("base_height", .int(baseHeight)),
            ("time", .int(time)),
        ])
    }
}

extension BlockRequest: JSONRenderable {
    public var json: JSONValue {
        .object([("request_id", .int(requestID)), ("start_height", .int(startHeight)), ("count", .int(count))])
    }
}

extension BlockResponse: JSONRenderable {
    public var json: JSONValue {
        .object([("request_id", .int(requestID)), ("blocks", .array(blocks.map(\.json)))])
    }
}

extension Proposal: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("height", .int(height)), ("round", .int(round)), ("pol_round", polRound.map { .int($0) } ?? .null),
            ("block_hash", blockHash.json), ("timestamp", .int(timestamp)), ("proposer", proposer.json),
            ("signature", signature.json), ("block", block.json),
        ])
    }
}

extension Hello: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("min_version", .int(minVersion)), ("max_version", .int(maxVersion)), ("channel", .string(channel.name)),
            ("chain_id", .string(chainID)), ("ephemeral_key", ephemeralKey.json), ("nonce", nonce.json),
        ])
    }
}

extension Auth: JSONRenderable {
    public var json: JSONValue { .object([("node_key", nodeKey.json), ("signature", signature.json)]) }
}

extension Disconnect: JSONRenderable {
    public var json: JSONValue { .object([("code", .int(code)), ("reason", .string(reason))]) }
}

extension Ping: JSONRenderable {
    public var json: JSONValue { .object([("nonce", .int(nonce))]) }
}

extension SignedRequest: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("kind", .int(kind)), ("signer", signer.json), ("timestamp", .int(timestamp)), ("body", .hex(body)),
            ("signature", signature.json),
        ])
    }
}

extension ClientRequest: JSONRenderable {
    public var json: JSONValue { .object([("request_id", .int(requestID)), ("request", request.json)]) }
}

extension ClientResponse: JSONRenderable {
    public var json: JSONValue {
        .object([("request_id", .int(requestID)), ("kind", .int(kind)), ("body", .hex(body))])
    }
}

extension ClientError: JSONRenderable {
    public var json: JSONValue {
        .object([("request_id", .int(requestID)), ("code", .int(code)), ("message", .string(message))])
    }
}

extension ClientEvent: JSONRenderable {
    public var json: JSONValue {
        .object([("subscription_id", .int(subscriptionID)), ("kind", .int(kind)), ("body", .hex(body))])
    }
}

extension RecordBlob: JSONRenderable {
    public var json: JSONValue {
        .object([("record", record.json), ("offset", .int(offset)), ("total", .int(total)), ("chunk", .hex(chunk))])
    }
}

extension RecordBlobRequest: JSONRenderable {
    public var json: JSONValue { .object([("record", record.json)]) }
}

extension Message: JSONRenderable {
    public var json: JSONValue { (payload as! any JSONRenderable).json }
}

extension FrameHeader {
    /// The header members of a frame's JSON rendering.
    public var jsonMembers: [(String, JSONValue)] {
        [
            ("version", .int(version)), ("type", .string(type.name)), ("type_code", .int(type.rawValue)),
            ("flags", .array(flags.names.map { .string($0) })), ("length", .int(length)),
        ]
    }
}

extension DecodedFrame: JSONRenderable {
    public var json: JSONValue {
        var members = header.jsonMembers
        if let inflatedLength { members.append(("inflated_length", .int(inflatedLength))) }
        members.append(("message", message.json))
        return .object(members)
    }
}

extension WireError: JSONRenderable {
    public var json: JSONValue {
        .object([("error", .string(code.name)), ("layer", .string(layer.rawValue)), ("offset", .int(offset))])
    }
}
