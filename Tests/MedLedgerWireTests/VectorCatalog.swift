import MedLedgerCrypto
import MedLedgerWire

/// The source of Protocol/vectors/: every wire vector, built from values and raw bytes here.
///
/// Positive vectors are messages framed by the codec; their `.json` is the codec's rendering, which
/// the independent Python decoder (Tools/spec-check) checks. Rejection vectors are hand-made bad
/// bytes, and their expected error, layer and offset are written here by hand (or from the length
/// of a prefix built separately), never taken from the decoder under test.
///
/// Signatures in these vectors are fixed filler bytes: they test the encoding, not the signing.
enum VectorCatalog {
    static let chainID = "medledger-vectors"

    // MARK: Deterministic sample data

    static func b32(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array(label.utf8)).bytes)! }

    static func b64(_ label: String) -> Bytes64 {
        Bytes64(SHA256.hash(Array((label + "/1").utf8)).bytes + SHA256.hash(Array((label + "/2").utf8)).bytes)!
    }

    /// The key log of the sealed vectors.
    static let keyLog = KeyLogEntry(
        initiatorNonce: b32("hello nonce initiator"), initiatorToResponder: b32("vector key i2r"),
        responderToInitiator: b32("vector key r2i"))

    static let validators = (0..<4).map { b32("validator \($0)") }

    static let transaction = Transaction(
        txType: 3, signer: b32("patient alice"), nonce: 7,
        body: Array("consent: lab-7 may read category=bloodwork until 2027-01-01".utf8), signature: b64("tx 1"))

    static let transaction2 = Transaction(
        txType: 9, signer: b32("general hospital org"), nonce: 1, body: [0x01, 0x02, 0x03, 0x04],
        signature: b64("tx 2"))

    static func vote(_ type: VoteType, height: UInt64, round: UInt32, hash: Bytes32?, validator: Int) -> Vote {
        Vote(
            voteType: type, height: height, round: round, blockHash: hash,
            timestamp: 1_795_000_000_000 + UInt64(validator) * 17, validator: validators[validator],
            signature: b64("vote \(type.name) \(height) \(round) \(validator)"))
    }

    static func commit(height: UInt64, hash: Bytes32, indices: [UInt16] = [0, 1, 3]) -> CommitCertificate {
        CommitCertificate(
            height: height, round: 0, blockHash: hash,
            signatures: indices.map {
                CommitSignature(
                    validatorIndex: $0, timestamp: 1_795_000_000_000 + UInt64($0) * 17,
                    signature: b64("precommit \(height) \($0)"))
            })
    }

    static func header(height: UInt64) -> BlockHeader {
        BlockHeader(
            chainID: chainID, height: height, time: 1_795_000_000_000 + height * 1000,
            previousHash: height == 1 ? .zero : b32("block \(height - 1)"),
            lastCommitHash: height == 1 ? .zero : b32("last commit \(height)"),
            transactionsRoot: b32("tx root \(height)"), evidenceRoot: b32("evidence root \(height)"),
            stateRoot: b32("state root \(height)"), validatorsHash: b32("validator set"),
            nextValidatorsHash: b32("validator set"), proposer: validators[Int(height % 4)])
    }

    static let evidence = Evidence(
        duplicateVote: vote(.prevote, height: 5, round: 0, hash: b32("block A"), validator: 2),
        vote(.prevote, height: 5, round: 0, hash: b32("block B"), validator: 2))

    static func block(height: UInt64) -> Block {
        let header = header(height: height)
        return Block(
            header: header, transactions: height == 1 ? [] : [transaction, transaction2],
            evidence: height == 6 ? [evidence] : [],
            lastCommit: height == 1 ? nil : commit(height: height - 1, hash: b32("block \(height - 1)")))
    }

    static func committed(height: UInt64) -> CommittedBlock {
        let block = block(height: height)
        return CommittedBlock(block: block, commit: commit(height: height, hash: block.header.hash))
    }

    static let hello = Hello(
        minVersion: 1, maxVersion: 1, channel: .peer, chainID: chainID, ephemeralKey: b32("ephemeral initiator"),
        nonce: keyLog.initiatorNonce)

    static let signedRequest = SignedRequest(
        kind: 4, signer: b32("researcher bob"), timestamp: 1_795_000_123_456,
        body: Array("timeline patient=alice".utf8), signature: b64("request 1"))

    // MARK: Positive vectors

    struct Sealing {
        var direction: Direction
        var sequence: UInt64

        var json: JSONValue {
            .object([
                ("key_log", .string(VectorCatalog.keyLog.description)), ("direction", .string(direction.rawValue)),
                ("sequence", .int(sequence)),
            ])
        }

        var opener: FrameOpener {
            try! FrameOpener(key: VectorCatalog.keyLog.key(for: direction).bytes, nextSequence: sequence)
        }
    }

    struct Positive {
        var name: String
        var summary: String
        var bytes: [UInt8]
        var sealing: Sealing?
    }

    static func plain(_ name: String, _ summary: String, _ message: Message, compression: Frame.Compression = .never)
        -> Positive
    {
        Positive(name: name, summary: summary, bytes: Frame.plain(message, compression: compression).bytes)
    }

    static func sealed(
        _ name: String, _ summary: String, _ message: Message, _ direction: Direction, sequence: UInt64,
        compression: Frame.Compression = .never
    ) -> Positive {
        let sealing = Sealing(direction: direction, sequence: sequence)
        var sealer = try! FrameSealer(key: keyLog.key(for: direction).bytes, nextSequence: sequence)
        let frame = try! Frame.sealed(message, compression: compression, sealer: &sealer)
        return Positive(name: name, summary: summary, bytes: frame.bytes, sealing: sealing)
    }

    static var positives: [Positive] {
        [
            plain("hello", "HELLO from an initiator on the peer port", .hello(hello)),
            plain(
                "hello-client-responder", "HELLO answered by a responder on the client port (chosen version 1)",
                .hello(
                    Hello(
                        minVersion: 1, maxVersion: 1, channel: .client, chainID: chainID,
                        ephemeralKey: b32("ephemeral responder"), nonce: b32("hello nonce responder")))),
            sealed(
                "auth-sealed", "AUTH, the initiator's first sealed frame (i2r sequence 0)",
                .auth(Auth(nodeKey: b32("node key hospital"), signature: b64("auth initiator"))),
                .initiatorToResponder, sequence: 0),
            plain(
                "disconnect", "DISCONNECT before the handshake (wrong_chain), with a non-ASCII reason",
                .disconnect(
                    Disconnect(
                        code: DisconnectReason.wrongChain.rawValue,
                        reason: "chain id \"medledger-prod\" expected — got \"medledger-vectors\" ✓"))),
            plain(
                "disconnect-reason-at-limit", "DISCONNECT whose reason is exactly 512 bytes (the limit)",
                .disconnect(Disconnect(code: DisconnectReason.normal.rawValue, reason: String(repeating: "é", count: 256)))),
            plain("ping", "PING", .ping(Ping(nonce: 0x0102_0304_0506_0708))),
            plain("pong", "PONG echoing the PING nonce", .pong(Ping(nonce: 0x0102_0304_0506_0708))),
            sealed(
                "ping-sealed", "PING sealed by the responder (r2i sequence 1)", .ping(Ping(nonce: UInt64.max)),
                .responderToInitiator, sequence: 1),
            plain(
                "status", "STATUS of a node at height 42",
                .status(Status(height: 42, blockHash: b32("block 42"), baseHeight: 1, time: 1_795_000_042_000))),
            plain("transaction", "TRANSACTION gossip", .transaction(transaction)),
            plain(
                "proposal", "PROPOSAL of a fresh block at height 6 (two transactions, one evidence)",
                .proposal(proposal(polRound: nil))),
            plain(
                "proposal-pol-round", "PROPOSAL re-proposing a locked block from round 1 in round 3",
                .proposal(proposal(polRound: 1, round: 3))),
            plain(
                "vote-prevote", "VOTE: a prevote for a block",
                .vote(vote(.prevote, height: 6, round: 0, hash: b32("block 6"), validator: 1))),
            plain(
                "vote-precommit-nil", "VOTE: a precommit for nil",
                .vote(vote(.precommit, height: 6, round: 2, hash: nil, validator: 3))),
            plain("block-genesis-height", "BLOCK at height 1: no transactions, no last commit", .block(committed(height: 1))),
            plain("block", "BLOCK at height 2 with two transactions and the last commit", .block(committed(height: 2))),
            plain(
                "block-compressed", "BLOCK at height 6, zlib-compressed (flag 0x01)", .block(committed(height: 6)),
                compression: .always),
            plain(
                "block-request", "BLOCK_REQUEST for heights 10 to 25",
                .blockRequest(BlockRequest(requestID: 77, startHeight: 10, count: 16))),
            plain(
                "block-response", "BLOCK_RESPONSE with two blocks",
                .blockResponse(BlockResponse(requestID: 77, blocks: [committed(height: 2), committed(height: 3)]))),
            plain(
                "block-response-empty", "BLOCK_RESPONSE with no blocks (the server does not have them)",
                .blockResponse(BlockResponse(requestID: 78, blocks: []))),
            plain("evidence", "EVIDENCE of a duplicate prevote", .evidence(evidence)),
            plain(
                "record-blob", "RECORD_BLOB: the second chunk of a 21-byte ciphertext",
                .recordBlob(RecordBlob(record: b32("record 1"), offset: 16, total: 21, chunk: [0xA1, 0xA2, 0xA3, 0xA4, 0xA5]))),
            plain(
                "record-blob-request", "RECORD_BLOB_REQUEST for a record a holder lacks",
                .recordBlobRequest(RecordBlobRequest(record: b32("record 1")))),
            plain(
                "client-request", "CLIENT_REQUEST with a signed request",
                .clientRequest(ClientRequest(requestID: 1, request: signedRequest))),
            plain(
                "client-response", "CLIENT_RESPONSE",
                .clientResponse(ClientResponse(requestID: 1, kind: 4, body: Array("timeline: 3 entries".utf8)))),
            plain(
                "client-error", "CLIENT_ERROR with a message",
                .clientError(
                    ClientError(
                        requestID: 2, code: 7,
                        message: "no consent in force for purpose research; ask the patient to grant one"))),
            plain(
                "client-event", "CLIENT_EVENT on a subscription",
                .clientEvent(ClientEvent(subscriptionID: 5, kind: 2, body: Array("break-glass access".utf8)))),
            sealed(
                "client-response-sealed-compressed",
                "CLIENT_RESPONSE compressed then sealed (flags 0x03, r2i sequence 4)",
                .clientResponse(ClientResponse(requestID: 9, kind: 6, body: Array(repeating: 0x41, count: 600))),
                .responderToInitiator, sequence: 4, compression: .always),
        ]
    }

    static func proposal(polRound: UInt32?, round: UInt32 = 0) -> Proposal {
        let block = block(height: 6)
        return Proposal(
            height: 6, round: round, polRound: polRound, blockHash: block.header.hash,
            timestamp: 1_795_000_006_500, proposer: validators[2], signature: b64("proposal 6 \(round)"), block: block)
    }
}
