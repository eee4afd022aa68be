import Foundation
import MedLedgerCrypto
@testable import MedLedgerStore
import MedLedgerWire
import Testing

/// Blocks that link by hash, with transactions of mixed compressibility: what the log stores.
struct SyntheticChain {
    static let chainID = "medledger-store-test"
    var blocks: [CommittedBlock] = []
    var rng: SplitMix64

    init(seed: UInt64 = 1) { rng = SplitMix64(seed: seed) }

    mutating func bytes(_ count: Int) -> [UInt8] { rng.bytes(count) }

    @discardableResult
    mutating func next(transactions: Int = 3) -> CommittedBlock {
        let height = UInt64(blocks.count + 1)
        let previous = blocks.last?.block.header.hash ?? .zero
        let txs = (0..<transactions).map { index -> Transaction in
            // Half text-like (compressible), half random.
            let body = index % 2 == 0 ? Array(String(repeating: "consent dental treatment ", count: 8).utf8) : bytes(120)
            return Transaction(txType: 8, signer: Bytes32(bytes(32))!, nonce: height, body: body, signature: Bytes64(bytes(64))!)
        }
        let header = BlockHeader(
            chainID: Self.chainID, height: height, time: 1_795_000_000_000 + height * 1000, previousHash: previous,
            lastCommitHash: .zero, transactionsRoot: Bytes32(bytes(32))!, evidenceRoot: .zero, stateRoot: Bytes32(bytes(32))!,
            validatorsHash: .zero, nextValidatorsHash: .zero, proposer: .zero)
        let commit = CommitCertificate(
            height: height, round: 0, blockHash: header.hash,
            signatures: [CommitSignature(validatorIndex: 0, timestamp: 1, signature: Bytes64(bytes(64))!)])
        let block = CommittedBlock(block: Block(header: header, transactions: txs, evidence: [], lastCommit: nil), commit: commit)
        blocks.append(block)
        return block
    }
}

/// A fresh temporary directory, removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "log") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-\(label)-\(UUID().uuidString)").path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("segment log", .serialized)
struct SegmentLogTests {
    let id = SyntheticChain.chainID

    @Test("blocks appended are read back, after reopening too, across rolled segments")
    func appendReadReopen() throws {
        let dir = TemporaryDirectory()
        var chain = SyntheticChain()
        let options = SegmentLog.Options(maxSegmentSize: 8 * 1024, indexInterval: 4)
        do {
            let (log, report) = try SegmentLog.open(directory: dir.path, chainID: id, options: options)
            #expect(report.lastHeight == 0)
            for _ in 0..<60 { try log.append(chain.next()) }
            #expect(log.lastHeight == 60)
            #expect(log.segmentPaths.count > 3)
            for block in chain.blocks { #expect(try log.read(height: block.block.header.height) == block) }
            log.close()
        }
        let (log, report) = try SegmentLog.open(directory: dir.path, chainID: id, options: options)
        #expect(report.lastHeight == 60 && report.tornTail == nil && !report.indexRebuilt)
        for block in chain.blocks.shuffled() { #expect(try log.read(height: block.block.header.height) == block) }
        try log.append(chain.next())
        #expect(try log.read(height: 61) == chain.blocks[60])
        #expect(throws: StoreError.self) { try log.read(height: 62) }
        log.close()
    }

    @Test("appends must be the next height and link to the previous block")
    func appendOrder() throws {
        let dir = TemporaryDirectory()
        var chain = SyntheticChain()
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        defer { log.close() }
        let first = chain.next()
        let second = chain.next()
        #expect(throws: StoreError.self) { try log.append(second) }
        try log.append(first)
        var unlinked = chain.next()
        unlinked.block.header.height = 2
        #expect(throws: StoreError.self) { try log.append(unlinked) }
        try log.append(second)
    }

    @Test("blocks submitted together share fsyncs (group commit) and are all durable")
    func groupCommit() throws {
        let dir = TemporaryDirectory()
        var chain = SyntheticChain()
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        let tickets = try (0..<200).map { _ in try log.submit(chain.next()) }
        for ticket in tickets { try ticket.wait() }
        #expect(log.lastHeight == 200)
        #expect(log.syncCount < 200, "200 appends took \(log.syncCount) fsyncs")
        log.close()
        let (reopened, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        #expect(reopened.lastHeight == 200)
        reopened.close()
    }

    @Test("a missing or damaged index is rebuilt from the segments")
    func indexRebuilt() throws {
        let dir = TemporaryDirectory()
        var chain = SyntheticChain()
        let options = SegmentLog.Options(maxSegmentSize: 4096, indexInterval: 4)
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id, options: options)
        for _ in 0..<30 { try log.append(chain.next()) }
        log.close()
        let indexPath = Path.join(dir.path, SegmentIndex.fileName)
        var bytes = try PosixFileSystem().readAll(indexPath)
        bytes[20] ^= 0xFF
        try PosixFileSystem().writeAtomically(bytes, to: indexPath)
        let (damaged, report) = try SegmentLog.open(directory: dir.path, chainID: id, options: options)
        #expect(report.indexRebuilt && report.lastHeight == 30)
        #expect(try damaged.read(height: 17) == chain.blocks[16])
        damaged.close()
        try PosixFileSystem().remove(indexPath)
        let (missing, report2) = try SegmentLog.open(directory: dir.path, chainID: id, options: options)
        #expect(report2.indexRebuilt && report2.lastHeight == 30)
        missing.close()
    }

    @Test("cutting the last record at every byte offset recovers every complete block and quarantines the rest")
    func tornTailAtEveryOffset() throws {
        let dir = TemporaryDirectory("torn")
        var chain = SyntheticChain()
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        for _ in 0..<5 { try log.append(chain.next()) }
        let segment = log.segmentPaths.last!
        log.close()
        let fs = PosixFileSystem()
        let full = try fs.readAll(segment)
        let lastRecord = SegmentFormat.encodeRecord(chain.blocks[4], compressionLevel: 6).bytes
        let recordStart = full.count - lastRecord.count
        let indexPath = Path.join(dir.path, SegmentIndex.fileName)
        for cut in recordStart..<full.count {
            // A crash mid-append: the last record was never fsynced, so the index's durable frontier
            // (written at open, at rolls and every 256 records) cannot be past it. Without an index
            // the newest segment is in doubt, which is the same for this test.
            try fs.writeAtomically(Array(full[0..<cut]), to: segment)
            if fs.exists(indexPath) { try fs.remove(indexPath) }
            let (reopened, report) = try SegmentLog.open(directory: dir.path, chainID: id)
            #expect(reopened.lastHeight == 4, "cut at \(cut)")
            if cut > recordStart {
                #expect(report.tornTail?.offset == UInt64(recordStart), "cut at \(cut)")
                #expect(report.tornTail?.bytes == UInt64(cut - recordStart))
            }
            #expect(try reopened.read(height: 4) == chain.blocks[3])
            // The log goes on from there.
            try reopened.append(chain.blocks[4])
            reopened.close()
        }
    }

    @Test("a flipped bit before the tail is corruption named by file, offset and height; repair cuts there")
    func corruptionAndRepair() throws {
        let dir = TemporaryDirectory("corrupt")
        var chain = SyntheticChain()
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id, options: SegmentLog.Options(indexInterval: 100))
        for _ in 0..<10 { try log.append(chain.next()) }
        let segment = log.segmentPaths.last!
        log.close()
        let fs = PosixFileSystem()
        var bytes = try fs.readAll(segment)
        // Somewhere inside record 3's stored bytes.
        var offset = SegmentFormat.segmentHeaderSize
        for block in chain.blocks.prefix(2) { offset += SegmentFormat.encodeRecord(block, compressionLevel: 6).bytes.count }
        bytes[offset + 70] ^= 0x10
        try fs.writeAtomically(bytes, to: segment)
        // The index (written at close) says all ten records were fsynced: damage there is corruption.
        #expect {
            _ = try SegmentLog.open(directory: dir.path, chainID: id)
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .corrupt && error.path == segment && error.offset == UInt64(offset) && error.height == 3
        }
        let moved = try SegmentLog.repair(directory: dir.path, chainID: id, truncateAfter: 2)
        #expect(moved.count == 1)
        let (repaired, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        #expect(repaired.lastHeight == 2)
        repaired.close()
    }

    @Test("a segment of another chain is refused")
    func wrongChain() throws {
        let dir = TemporaryDirectory()
        let (log, _) = try SegmentLog.open(directory: dir.path, chainID: id)
        log.close()
        #expect {
            _ = try SegmentLog.open(directory: dir.path, chainID: "medledger-other")
        } throws: { error in
            (error as? StoreError)?.code == .wrongFormat
        }
    }
}
