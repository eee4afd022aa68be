import MedLedgerWire

/// The property tests' generator: seeded, so every failure replays from its seed.
typealias SeededRandom = SplitMix64

/// Random but valid messages of every type, with sizes biased towards edges (empty, one, limits).
struct MessageGenerator {
    var rng: SeededRandom

    init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    mutating func int<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T {
        switch UInt8.random(in: 0..<8, using: &rng) {
        case 0: return 0
        case 1: return T.max
        case 2: return T(truncatingIfNeeded: UInt8.random(in: 0...3, using: &rng))
        default: return T.random(in: T.min...T.max, using: &rng)
        }
    }

    mutating func count(max: Int) -> Int {
        switch UInt8.random(in: 0..<6, using: &rng) {
        case 0: return 0
        case 1: return Swift.min(1, max)
        default: return Int.random(in: 0...Swift.min(max, 4), using: &rng)
        }
    }

    mutating func bytes(max: Int) -> [UInt8] {
        let length: Int
        switch UInt8.random(in: 0..<8, using: &rng) {
        case 0: length = 0
        case 1: length = max
        default: length = Int.random(in: 0...Swift.min(max, 200), using: &rng)
        }
        return (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    mutating func string(max: Int) -> String {
        let pieces = ["a", "Z", " ", "é", "—", "✓", "𝄞", "\n", "\u{0}", "patient", "\u{1B}"]
        var text = ""
        while true {
            let piece = pieces.randomElement(using: &rng)!
            if text.utf8.count + piece.utf8.count > max || Bool.random(using: &rng) && text.utf8.count > 3 { break }
            text += piece
        }
        return text
    }

    mutating func chainID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-._")
        let length = Bool.random(using: &rng) ? 64 : Int.random(in: 1...20, using: &rng)
        return String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
    }

    mutating func b32() -> Bytes32 { Bytes32((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })! }
    mutating func b64() -> Bytes64 { Bytes64((0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) })! }

    mutating func transaction() -> Transaction {
        Transaction(txType: int(), signer: b32(), nonce: int(), body: bytes(max: WireLimits.transactionBodyMax), signature: b64())
    }

    mutating func vote() -> Vote {
        Vote(
            voteType: Bool.random(using: &rng) ? .prevote : .precommit, height: int(), round: int(),
            blockHash: Bool.random(using: &rng) ? b32() : nil, timestamp: int(), validator: b32(), signature: b64())
    }

    mutating func evidence() -> Evidence {
        var a = vote()
        var b = a
        b.blockHash = b32()
        if Bool.random(using: &rng) { a.blockHash = nil }
        return Evidence(duplicateVote: a, b)
    }

    mutating func commit() -> CommitCertificate {
        var indices = Set<UInt16>()
        let wanted = 1 + count(max: 6)
        while indices.count < wanted { indices.insert(int()) }
        return CommitCertificate(
            height: int(), round: int(), blockHash: b32(),
            signatures: indices.sorted().map { CommitSignature(validatorIndex: $0, timestamp: int(), signature: b64()) })
    }

    mutating func header() -> BlockHeader {
        BlockHeader(
            chainID: chainID(), height: int(), time: int(), previousHash: b32(), lastCommitHash: b32(),
            transactionsRoot: b32(), evidenceRoot: b32(), stateRoot: b32(), validatorsHash: b32(),
            nextValidatorsHash: b32(), proposer: b32())
    }

    mutating func block() -> Block {
        var transactions: [Transaction] = []
        for _ in 0..<count(max: 3) { transactions.append(transaction()) }
        var evidence: [Evidence] = []
        for _ in 0..<count(max: 2) { evidence.append(self.evidence()) }
        return Block(
            header: header(), transactions: transactions, evidence: evidence,
            lastCommit: Bool.random(using: &rng) ? commit() : nil)
    }

    mutating func committed() -> CommittedBlock { CommittedBlock(block: block(), commit: commit()) }

    mutating func signedRequest() -> SignedRequest {
        SignedRequest(kind: int(), signer: b32(), timestamp: int(), body: bytes(max: 300), signature: b64())
    }

    mutating func message(_ type: MessageType) -> Message {
        switch type {
        case .hello:
            let low = UInt8.random(in: 1...255, using: &rng)
            return .hello(
                Hello(
                    minVersion: low, maxVersion: UInt8.random(in: low...255, using: &rng),
                    channel: Bool.random(using: &rng) ? .peer : .client, chainID: chainID(), ephemeralKey: b32(),
                    nonce: b32()))
        case .auth: return .auth(Auth(nodeKey: b32(), signature: b64()))
        case .disconnect: return .disconnect(Disconnect(code: int(), reason: string(max: WireLimits.disconnectReasonMax)))
        case .ping: return .ping(Ping(nonce: int()))
        case .pong: return .pong(Ping(nonce: int()))
        case .status: return .status(Status(height: int(), blockHash: b32(), baseHeight: int(), time: int()))
        case .transaction: return .transaction(transaction())
        case .proposal:
            return .proposal(
                Proposal(
                    height: int(), round: int(), polRound: Bool.random(using: &rng) ? int() : nil, blockHash: b32(),
                    timestamp: int(), proposer: b32(), signature: b64(), block: block()))
        case .vote: return .vote(vote())
        case .block: return .block(committed())
        case .blockRequest:
            return .blockRequest(
                BlockRequest(
                    requestID: int(), startHeight: UInt64.random(in: 1...UInt64.max, using: &rng),
                    count: UInt16.random(in: 1...WireLimits.blockRequestCountMax, using: &rng)))
        case .blockResponse:
            var blocks: [CommittedBlock] = []
            for _ in 0..<count(max: 2) { blocks.append(committed()) }
            return .blockResponse(BlockResponse(requestID: int(), blocks: blocks))
        case .evidence: return .evidence(evidence())
        case .recordBlob:
            let chunk = bytes(max: 300)
            let offset = UInt64.random(in: 0...1_000, using: &rng)
            let total = offset + UInt64(chunk.count) + UInt64.random(in: (chunk.isEmpty ? 1 : 0)...1_000, using: &rng)
            return .recordBlob(RecordBlob(record: b32(), offset: offset, total: total, chunk: chunk))
        case .recordBlobRequest: return .recordBlobRequest(RecordBlobRequest(record: b32()))
        case .clientRequest: return .clientRequest(ClientRequest(requestID: int(), request: signedRequest()))
        case .clientResponse: return .clientResponse(ClientResponse(requestID: int(), kind: int(), body: bytes(max: 300)))
        case .clientError:
            return .clientError(ClientError(requestID: int(), code: int(), message: string(max: WireLimits.clientErrorMessageMax)))
        case .clientEvent: return .clientEvent(ClientEvent(subscriptionID: int(), kind: int(), body: bytes(max: 300)))
        }
    }

    mutating func anyMessage() -> Message { message(MessageType.allCases.randomElement(using: &rng)!) }
}
