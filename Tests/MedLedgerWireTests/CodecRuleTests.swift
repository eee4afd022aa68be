import MedLedgerWire
import Testing

@Suite("canonical encoding rules")
struct CodecRuleTests {
    func string(_ raw: [UInt8]) throws(WireError) -> String {
        var writer = ByteWriter()
        writer.writeLengthPrefixed(raw)
        var reader = ByteReader(writer.bytes)
        return try reader.readString(max: 100)
    }

    @Test(
        "UTF-8: valid sequences up to U+10FFFF pass",
        arguments: [[0x61], [0xC3, 0xA9], [0xE2, 0x9C, 0x93], [0xF0, 0x9D, 0x84, 0x9E], [0xF4, 0x8F, 0xBF, 0xBF], [0x00]] as [[UInt8]])
    func validUTF8(raw: [UInt8]) throws {
        #expect(Array(try string(raw).utf8) == raw)
    }

    @Test(
        "UTF-8: overlongs, surrogates, values above U+10FFFF and cut sequences are invalid_utf8",
        arguments: [
            [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xC3], [0xFF], [0x80],
        ] as [[UInt8]])
    func invalidUTF8(raw: [UInt8]) {
        expectWireError(.invalidUTF8, offset: 0) { _ = try string(raw) }
    }

    @Test("limits are checked before allocating: a 4 GiB length or count fails at once")
    func limitsBeforeAllocation() {
        var reader = ByteReader([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WireError.self) { try reader.readLengthPrefixed(max: 10) }
        var list = ByteReader([0xFF, 0xFF, 0xFF, 0xFF])
        do {
            let _: [Transaction] = try list.readList(max: 10_000, "transactions")
        } catch {
            #expect(error.code == .countExceedsLimit)
        }
    }

    @Test("a value exactly at its limit is accepted, one more is not")
    func exactLimits() throws {
        let atLimit = Disconnect(code: 1, reason: String(repeating: "é", count: WireLimits.disconnectReasonMax / 2))
        #expect(try Disconnect(canonicalBytes: atLimit.canonicalBytes) == atLimit)
        let over = Disconnect(code: 1, reason: atLimit.reason + "a")
        #expect(throws: WireError.self) { try Disconnect(canonicalBytes: over.canonicalBytes) }
        let body = Transaction(
            txType: 1, signer: .zero, nonce: 0, body: Array(repeating: 1, count: WireLimits.transactionBodyMax),
            signature: Bytes64(repeating: 0))
        #expect(try Transaction(canonicalBytes: body.canonicalBytes) == body)
    }

    @Test("chain ids: 1 to 64 of a-z 0-9 - . _")
    func chainIDs() {
        #expect(ChainID.isValid("medledger-test_1.0"))
        #expect(ChainID.isValid(String(repeating: "a", count: 64)))
        #expect(!ChainID.isValid(String(repeating: "a", count: 65)))
        #expect(!ChainID.isValid(""))
        #expect(!ChainID.isValid("Medledger"))
        #expect(!ChainID.isValid("med ledger"))
        #expect(!ChainID.isValid("médledger"))
    }

    @Test("identical evidence votes are not canonical (the order must be strict)")
    func identicalEvidenceVotes() throws {
        let vote = Vote(
            voteType: .prevote, height: 1, round: 0, blockHash: nil, timestamp: 0, validator: .zero,
            signature: Bytes64(repeating: 0))
        let bytes = [EvidenceKind.duplicateVote.rawValue] + vote.canonicalBytes + vote.canonicalBytes
        expectWireError(.nonCanonical, offset: 1 + vote.canonicalBytes.count) { _ = try Evidence(canonicalBytes: bytes) }
    }
}

/// Expects `body` to fail with `code` at message-layer `offset` (the detail is for people, not compared).
func expectWireError(
    _ code: WireError.Code, offset: Int, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    #expect(sourceLocation: sourceLocation) {
        try body()
    } throws: { error in
        guard let error = error as? WireError else { return false }
        return error.code == code && error.layer == .message && error.offset == offset
    }
}

/// Expects `body` to fail with a key log error on `line`.
func expectKeyLogError(line: Int, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    #expect(sourceLocation: sourceLocation) {
        try body()
    } throws: { error in
        (error as? KeyLogError)?.line == line
    }
}

@Suite("zlib, sealing and key logs")
struct ZlibSealKeyLogTests {
    @Test("CRC-32 matches the standard check value")
    func crcCheckValue() {
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("bounded inflate tells every outcome apart")
    func inflateOutcomes() {
        let data = Array("the quick brown fox jumps over the lazy dog".utf8)
        let stream = Zlib.deflate(data)
        #expect(Zlib.inflate(stream[...], expectedLength: data.count) == .inflated(data))
        #expect(Zlib.inflate(stream[...], expectedLength: data.count - 1) == .tooLong)
        #expect(Zlib.inflate(stream[...], expectedLength: data.count + 1) == .tooShort(data.count))
        #expect(Zlib.inflate((stream + [0])[...], expectedLength: data.count) == .trailingData)
        #expect(Zlib.inflate(stream.dropLast(2), expectedLength: data.count) == .incomplete)
        if case .malformed = Zlib.inflate(([0x00, 0x00] + stream.dropFirst(2))[...], expectedLength: data.count) {
        } else {
            Issue.record("a bad zlib header must be malformed")
        }
        #expect(Zlib.inflate(Zlib.deflate([])[...], expectedLength: 0) == .inflated([]))
    }

    @Test("sealed frames open only in order, in their direction, with their header")
    func sealing() throws {
        let key = Array(repeating: UInt8(3), count: 32)
        var sealer = try FrameSealer(key: key)
        let frames = try (0..<3).map { try Frame.sealed(.ping(Ping(nonce: UInt64($0))), sealer: &sealer) }
        var opener = try FrameOpener(key: key)
        // Out of order: frame 1 first fails, and leaves the opener where it was.
        #expect(throws: WireError.self) { try opener.open(frames[1].payload, header: frames[1].header.bytes) }
        #expect(opener.nextSequence == 0)
        _ = try opener.open(frames[0].payload, header: frames[0].header.bytes)
        // Replay of frame 0 fails.
        #expect(throws: WireError.self) { try opener.open(frames[0].payload, header: frames[0].header.bytes) }
        // A header changed (type relabelled) fails even with a correct CRC.
        var relabelled = frames[1].header
        relabelled.type = .pong
        #expect(throws: WireError.self) { try opener.open(frames[1].payload, header: relabelled.bytes) }
        // The other direction's key fails.
        var other = try FrameOpener(key: Array(repeating: 4, count: 32), nextSequence: 1)
        #expect(throws: WireError.self) { try other.open(frames[1].payload, header: frames[1].header.bytes) }
        _ = try opener.open(frames[1].payload, header: frames[1].header.bytes)
        #expect(opener.nextSequence == 2)
    }

    @Test("a sealer refuses to go past 2^32 frames under one key")
    func nonceLimit() throws {
        var sealer = try FrameSealer(key: Array(repeating: 1, count: 32), nextSequence: WireLimits.maxSealedFramesPerKey - 1)
        _ = try Frame.sealed(.ping(Ping(nonce: 1)), sealer: &sealer)
        #expect(throws: SealError.nonceExhausted) { try Frame.sealed(.ping(Ping(nonce: 2)), sealer: &sealer) }
        #expect(throws: SealError.invalidKey) { try FrameSealer(key: [1, 2, 3]) }
    }

    @Test("key logs: comments and other versions are skipped, malformed lines name their line")
    func keyLogs() throws {
        let a = String(repeating: "a", count: 64)
        let b = String(repeating: "b", count: 64)
        let c = String(repeating: "c", count: 64)
        let text = "# node key log\n\nMEDLEDGER_V2 whatever\nMEDLEDGER_V1 \(a) \(b) \(c)\n"
        let entries = try KeyLog.parse(text)
        #expect(entries.count == 1)
        #expect(entries.values.first?.description == "MEDLEDGER_V1 \(a) \(b) \(c)")
        expectKeyLogError(line: 2) { _ = try KeyLog.parse("# x\nMEDLEDGER_V1 \(a) \(b)\n") }
        expectKeyLogError(line: 1) { _ = try KeyLog.parse("MEDLEDGER_V1 \(a) \(b) xyz\n") }
    }
}

@Suite("JSON values")
struct JSONValueTests {
    @Test("a member named twice is refused, so equality is exact")
    func duplicateMembers() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: #"{"a":1,"a":2}"#) }
        let x = JSONValue.object([("a", .int(1)), ("b", .int(2))])
        let y = JSONValue.object([("b", .int(2)), ("a", .int(1))])
        #expect(x == y && y == x)
        #expect(x != .object([("a", .int(1)), ("a", .int(1))]))
    }
}
