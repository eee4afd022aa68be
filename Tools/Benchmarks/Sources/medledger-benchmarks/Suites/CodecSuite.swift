import MedLedgerBenchProto
import MedLedgerLedger
import MedLedgerWire
import SwiftProtobuf

/// Suite 1: our canonical codec against swift-protobuf on the same block.
///
/// Both sides start from and end at fully typed values. Encoding: ours from typed bodies
/// (`TransactionBody.canonicalBytes` for each, then the envelopes and `Block.canonicalBytes`), as
/// protobuf serialises its nested messages; also ours from envelopes whose bodies are already
/// bytes, which is what a node does when it relays a block. Decoding: ours
/// `Block(canonicalBytes:)` and then `TransactionBody.decode` for every transaction, with all of
/// the strict checks (canonical order, UTF-8, limits, enums); protobuf's `init(serializedBytes:)`,
/// which decodes nested messages eagerly.
struct CodecSuite {
    let workload: Workload
    let options: MeasureOptions
    let transactionCount: Int

    struct Row {
        let operation: String
        let codec: String
        let timing: Timing
        let bytes: Int
    }

    func run() throws {
        let (block, _, _) = try workload.proposeGrantBlock(count: transactionCount)
        let bodies = Array(workload.grantBodies.prefix(transactionCount))
        let ourBytes = block.canonicalBytes
        let proto = ProtoMapping.block(block, bodies: bodies)
        let protoBytes: [UInt8] = try proto.serializedBytes()
        let committed = CommittedBlock(block: block, commit: workload.certify(block.header))
        let frameBytes = Frame.plain(.block(committed)).bytes

        // Both directions must reproduce their input before anything is timed.
        let typedBytes = try encodeTyped(block, bodies: bodies)
        precondition(typedBytes == ourBytes, "typed encoding differs from the block's")
        let ours = try decodeOurs(ourBytes)
        precondition(ours == (block, bodies), "our decoder does not round-trip the block")
        let theirs = try Medledger_Bench_Block(serializedBytes: protoBytes)
        precondition(theirs == proto, "protobuf does not round-trip the block")
        let framed = try decodeFrame(frameBytes)
        precondition(framed == (committed, bodies), "the BLOCK frame does not round-trip")

        let grantCount = Format.grouped(transactionCount)
        var rows: [Row] = []
        rows.append(
            Row(
                operation: "encode", codec: "ours: typed bodies -> Block.canonicalBytes",
                timing: try measure(options) { blackHole(try encodeTyped(block, bodies: bodies)) },
                bytes: ourBytes.count))
        rows.append(
            Row(
                operation: "encode", codec: "ours: Block.canonicalBytes (bodies already bytes)",
                timing: measure(options) { blackHole(block.canonicalBytes) }, bytes: ourBytes.count))
        rows.append(
            Row(
                operation: "encode", codec: "swift-protobuf: serializedBytes()",
                timing: try measure(options) { blackHole(try encodeProto(proto)) }, bytes: protoBytes.count))
        rows.append(
            Row(
                operation: "decode", codec: "ours: Block(canonicalBytes:) + \(grantCount) TransactionBody.decode",
                timing: try measure(options) { blackHole(try decodeOurs(ourBytes)) }, bytes: ourBytes.count))
        rows.append(
            Row(
                operation: "decode", codec: "swift-protobuf: init(serializedBytes:)",
                timing: try measure(options) { blackHole(try decodeProto(protoBytes)) },
                bytes: protoBytes.count))
        rows.append(
            Row(
                operation: "encode", codec: "ours, as a BLOCK frame: Frame.plain(...).bytes",
                timing: measure(options) { blackHole(Frame.plain(.block(committed)).bytes) }, bytes: frameBytes.count))
        rows.append(
            Row(
                operation: "decode", codec: "ours, as a BLOCK frame: parse + Message.decode + bodies",
                timing: try measure(options) { blackHole(try decodeFrame(frameBytes)) }, bytes: frameBytes.count))

        let protobuf = "swift-protobuf \(SwiftProtobuf.Version.versionString)"
        print(
            """

            1. Codec: one block of \(grantCount) signed grant_consent transactions (category scope of 2, expiry set),
               height 2 with a 4-signature last_commit, against \(protobuf) on Proto/block.proto
               encoded block: ours \(Format.grouped(ourBytes.count)) bytes, \
            swift-protobuf \(Format.grouped(protoBytes.count)) bytes, \
            BLOCK frame \(Format.grouped(frameBytes.count)) bytes (MB = 10^6 bytes)

            """)
        var table = Table([
            ("operation", .left), ("codec", .left), ("best ms/block", .right), ("median ms/block", .right),
            ("best blocks/s", .right), ("median blocks/s", .right), ("best MB/s", .right), ("median MB/s", .right),
        ])
        for row in rows {
            table.add([
                row.operation, row.codec, Format.fixed(row.timing.best * 1e3, 3),
                Format.fixed(row.timing.median * 1e3, 3),
                Format.rate(1 / row.timing.best), Format.rate(1 / row.timing.median),
                Format.rate(Double(row.bytes) / row.timing.best / 1e6),
                Format.rate(Double(row.bytes) / row.timing.median / 1e6),
            ])
        }
        print(table.render())

        // Blocks per second is the fair ratio: both encode the same block, in different sizes.
        let protoEncode = rows[2].timing
        let protoDecode = rows[4].timing
        var ratios = Table([
            ("ours vs swift-protobuf, blocks/s", .left), ("best", .right), ("median", .right), ("target", .right),
        ])
        func add(_ label: String, _ ours: Timing, _ theirs: Timing) {
            let best = theirs.best / ours.best
            let median = theirs.median / ours.median
            ratios.add([
                label, Format.ratio(best), Format.ratio(median),
                min(best, median) >= 3 ? ">= 3x: met" : ">= 3x: NOT met",
            ])
        }
        add("encode, from typed bodies (like protobuf)", rows[0].timing, protoEncode)
        add("encode, bodies already bytes (relay)", rows[1].timing, protoEncode)
        add("decode, every body decoded", rows[3].timing, protoDecode)
        print("")
        print(ratios.render())
    }

    // The operations are functions of their own, never inlined, so that a profiler can single
    // them out: valgrind --tool=callgrind --toggle-collect='*CodecSuite*decodeOurs*' (README.md).

    /// What an encoder that starts from typed values does: every body, then the envelopes and the block.
    @inline(never)
    func encodeTyped(_ block: Block, bodies: [TransactionBody]) throws -> [UInt8] {
        var transactions: [Transaction] = []
        transactions.reserveCapacity(bodies.count)
        for (envelope, body) in zip(block.transactions, bodies) {
            transactions.append(
                Transaction(
                    txType: body.type.rawValue, signer: envelope.signer, nonce: envelope.nonce,
                    body: body.canonicalBytes,
                    signature: envelope.signature))
        }
        return Block(
            header: block.header, transactions: transactions, evidence: block.evidence, lastCommit: block.lastCommit
        )
        .canonicalBytes
    }

    /// The block and every body, decoded strictly.
    @inline(never)
    func decodeOurs(_ bytes: [UInt8]) throws -> (Block, [TransactionBody]) {
        let block = try Block(canonicalBytes: bytes)
        var bodies: [TransactionBody] = []
        bodies.reserveCapacity(block.transactions.count)
        for transaction in block.transactions {
            bodies.append(try TransactionBody.decode(type: transaction.txType, body: transaction.body))
        }
        return (block, bodies)
    }

    /// A whole BLOCK frame: header checks, the message, then every body.
    @inline(never)
    func decodeFrame(_ bytes: [UInt8]) throws -> (CommittedBlock, [TransactionBody]) {
        let frame = try Frame.parseSingle(bytes)
        let decoded = try Frame.decodePlaintext(header: frame.header, plaintext: frame.payload)
        guard case .block(let committed) = decoded.message else { preconditionFailure("not a BLOCK frame") }
        var bodies: [TransactionBody] = []
        bodies.reserveCapacity(committed.block.transactions.count)
        for transaction in committed.block.transactions {
            bodies.append(try TransactionBody.decode(type: transaction.txType, body: transaction.body))
        }
        return (committed, bodies)
    }

    @inline(never)
    func encodeProto(_ block: Medledger_Bench_Block) throws -> [UInt8] { try block.serializedBytes() }

    @inline(never)
    func decodeProto(_ bytes: [UInt8]) throws -> Medledger_Bench_Block {
        try Medledger_Bench_Block(serializedBytes: bytes)
    }
}
