import Foundation
import MedLedgerInspect
import MedLedgerLedger
import MedLedgerStore
import MedLedgerTestSupport
import MedLedgerWire
import Testing

@Suite("medledger-inspect log (library)")
struct LogInspectionTests {
    var fixture: LogDirectory { get throws { try LogDirectory(path: LogFixture.chainDirectory.path) } }
    var genesis: Genesis { get throws { try LogVerification.loadGenesis(LogFixture.genesisFile.path) } }

    func dumpLines(_ directory: LogDirectory, from: UInt64 = 1, to: UInt64? = nil, json: Bool) throws -> [String] {
        var lines: [String] = []
        try LogDump.run(directory, from: from, through: to, json: json) { lines.append($0) }
        return lines
    }

    // MARK: The fixture

    @Test("ls lists the segments, the index and the quarantine (golden file)")
    func listing() throws {
        let listing = LogListing(try fixture)
        #expect(listing.chainID == LogFixture.chainID)
        #expect(listing.scans.map(\.segment.name) == [1, 4, 6].map { SegmentFormat.segmentName(startHeight: $0) })
        #expect(listing.scans.map(\.records) == [3, 2, 1])
        #expect(listing.scans.allSatisfy { $0.problem == nil })
        #expect(listing.index.isSound)
        #expect(listing.sequenceProblems.isEmpty)
        try LogGolden.check(listing.text, "log-ls.txt")
    }

    @Test("dump prints every block's header and decoded transactions (golden file)")
    func dumpText() throws {
        let blocks = try dumpLines(try fixture, json: false)
        #expect(blocks.count == 6)
        try LogGolden.check(blocks.joined(separator: "\n"), "log-dump.txt")
        #expect(try dumpLines(try fixture, from: 2, to: 3, json: false).map { $0.prefix(8) } == ["block 2 ", "block 3 "])
    }

    @Test("dump --json: one object per block, each transaction as the ledger renders it, with its decoded body")
    func dumpJSON() throws {
        let (_, blocks) = try LogFixture.build()
        let lines = try dumpLines(try fixture, json: true)
        #expect(lines.count == blocks.count)
        for (line, committed) in zip(lines, blocks) {
            #expect(!line.contains("\n"))
            let json = try JSONValue(parsing: line)
            let header = committed.block.header
            #expect(json["height"] == .int(header.height))
            #expect(json["hash"] == header.hash.json)
            #expect(json["time"] == .int(header.time))
            #expect(json["proposer"] == header.proposer.json)
            #expect(json["tx_count"] == .int(committed.block.transactions.count))
            let expected = try committed.block.transactions.map { try VerifiedTransaction($0, chainID: LogFixture.chainID).json }
            #expect(json["transactions"] == .array(expected))
            guard case .array(let transactions)? = json["transactions"] else { continue }
            for transaction in transactions { #expect(transaction["decoded_body"] != nil) }
        }
    }

    @Test("stats counts blocks, transactions by type and bytes stored against inflated (golden file)")
    func stats() throws {
        let stats = try LogStats(try fixture)
        #expect(stats.blocks == 6)
        #expect(stats.transactions == 13)
        #expect(stats.transactionsByType.map(\.name) == [
            "register_patient", "register_practitioner", "register_organisation", "grant_consent", "revoke_consent", "add_record",
            "access_entry", "break_glass", "erase_record",
        ])
        #expect(stats.transactionsByType.reduce(0) { $0 + $1.count } == 13)
        let listing = LogListing(try fixture)
        #expect(stats.storedBytes == listing.scans.reduce(0) { $0 + $1.storedBytes })
        #expect(stats.inflatedBytes > 0 && stats.fileBytes > stats.storedBytes)
        #expect(stats.json["transactions_by_type"]?["grant_consent"] == .int(2))
        try LogGolden.check(stats.text, "log-stats.txt")
    }

    @Test("find locates every transaction of the fixture by its id, and nothing else")
    func find() throws {
        let (_, blocks) = try LogFixture.build()
        let directory = try fixture
        for committed in blocks {
            for (index, transaction) in committed.block.transactions.enumerated() {
                let (found, _) = try LogFound.find(transaction.id, in: directory)
                #expect(found?.height == committed.block.header.height)
                #expect(found?.index == index)
                #expect(found?.transaction == transaction)
            }
        }
        let (missing, lastHeight) = try LogFound.find(Bytes32(repeating: 0xAB), in: directory)
        #expect(missing == nil && lastHeight == 6)
        let id = blocks[4].block.transactions[1].id
        #expect(try LogFound.parseID("0x" + id.hex.uppercased()) == id)
        #expect(throws: InspectError.self) { try LogFound.parseID("abc") }
    }

    @Test("verify passes on the fixture: without a genesis, and with it every certificate against the validator set")
    func verifyFixture() throws {
        let plain = LogVerification(try fixture)
        #expect(plain.passed, "\(plain.text)")
        #expect(plain.blocks == 6 && plain.transactions == 13 && plain.certificates == 0)
        let full = LogVerification(try fixture, genesis: try genesis)
        #expect(full.passed, "\(full.text)")
        // Six blocks' own certificates and the last_commit of blocks 2 to 6.
        #expect(full.certificates == 11 && full.validators == 4 && full.totalPower == 40)
        #expect(full.index?.isSound == true)
        try LogGolden.check(full.text, "log-verify.txt")
    }

    @Test("verify with the genesis of another chain fails at the stored chain id")
    func verifyOtherChain() throws {
        let mine = try genesis
        let other = try Genesis(chainID: "medledger-elsewhere", genesisTime: mine.genesisTime, facilities: mine.facilities)
        let verification = LogVerification(try fixture, genesis: other)
        #expect(verification.problem?.kind == .wrongFormat)
        #expect(verification.problem?.message.contains("medledger-log-fixture") == true)
        #expect(verification.problem?.message.contains("medledger-elsewhere") == true)
        #expect(verification.text.hasPrefix("FAILED"))
    }

    // MARK: Damage

    @Test("a bit flipped in record 3: verify names the file, offset and height; open refuses; nothing is changed")
    func flippedBit() throws {
        let scratch = LogScratch("flip")
        let copy = try scratch.copyOfFixture()
        let (segment, offset) = try LogDamage.flipBit(inRecord: 3, of: copy)
        let before = try LogFixture.files(in: scratch.url)
        let directory = try LogDirectory(path: copy.path)

        let verification = LogVerification(directory, genesis: try genesis)
        let problem = try #require(verification.problem)
        #expect(problem.kind == .corrupt)
        #expect(problem.height == 3 && problem.offset == offset)
        #expect(problem.path == copy.appendingPathComponent(segment).path)
        #expect(verification.blocks == 2)
        #expect(verification.text.contains("\(segment), offset \(offset), height 3"))
        #expect(throws: LogProblem.self) { try LogStats(directory) }
        #expect(throws: LogProblem.self) { try self.dumpLines(directory, json: true) }
        _ = LogListing(directory).text
        #expect(try LogFixture.files(in: scratch.url) == before, "inspecting changed the directory")

        // The store cannot serve it either (on another copy: opening writes). Opening checks only
        // the records after the last index entry, so it is the read that fails.
        let other = scratch.url.appendingPathComponent("opened")
        try FileManager.default.copyItem(at: copy, to: other)
        #expect(throws: StoreError.self) {
            let (log, _) = try SegmentLog.open(directory: other.path, chainID: LogFixture.chainID, options: LogFixture.options)
            defer { log.close() }
            _ = try log.read(height: 3)
        }
    }

    @Test("a truncated tail the index says was fsynced is corruption: reported where it is, and open refuses it")
    func truncatedDurableTail() throws {
        let scratch = LogScratch("cut")
        let copy = try scratch.copyOfFixture()
        let (_, lastOffset, _) = try LogDamage.record(6, in: copy)
        let segment = try LogDamage.truncateTail(of: copy, by: 100)
        let before = try LogFixture.files(in: scratch.url)

        let verification = LogVerification(try LogDirectory(path: copy.path), genesis: try genesis)
        let problem = try #require(verification.problem)
        #expect(problem.kind == .corrupt)
        #expect(problem.height == 6 && problem.offset == lastOffset && problem.path == segment.path)
        #expect(problem.message.contains("runs past the end of the file"))
        #expect(verification.blocks == 5)
        #expect(LogListing(try LogDirectory(path: copy.path)).scans.last?.problem?.kind == .corrupt)
        #expect(try LogFixture.files(in: scratch.url) == before, "inspecting changed the directory")
        #expect(throws: StoreError.self) {
            _ = try SegmentLog.open(directory: copy.path, chainID: LogFixture.chainID, options: LogFixture.options)
        }
    }

    @Test("a truncated tail after the durable frontier is a torn write: reported and left alone; after open cuts it, verify passes")
    func tornTail() throws {
        let scratch = LogScratch("torn")
        let copy = try scratch.copyOfFixture()
        try LogDamage.moveFrontier(of: copy, toEndOf: 5)
        let (_, lastOffset, _) = try LogDamage.record(6, in: copy)
        let segment = try LogDamage.truncateTail(of: copy, by: 100)
        let before = try LogFixture.files(in: scratch.url)

        let verification = LogVerification(try LogDirectory(path: copy.path), genesis: try genesis)
        let problem = try #require(verification.problem)
        #expect(problem.kind == .tornWrite)
        #expect(problem.height == 6 && problem.offset == lastOffset && problem.path == segment.path)
        #expect(verification.blocks == 5)
        let listing = LogListing(try LogDirectory(path: copy.path))
        #expect(listing.scans.last?.problem?.kind == .tornWrite)
        #expect(listing.text.contains("! torn write"))
        #expect(listing.text.contains("fsynced through height 5"))
        #expect(try LogFixture.files(in: scratch.url) == before, "inspecting changed the directory")

        // Opening recovers: the torn bytes go to quarantine/, and what is left verifies.
        let (log, report) = try SegmentLog.open(directory: copy.path, chainID: LogFixture.chainID, options: LogFixture.options)
        log.close()
        #expect(report.tornTail != nil && report.lastHeight == 5)
        let recovered = try LogDirectory(path: copy.path)
        #expect(!recovered.quarantine.isEmpty)
        let after = LogVerification(recovered, genesis: try genesis)
        #expect(after.passed, "\(after.text)")
        #expect(after.blocks == 5)
        #expect(LogListing(recovered).text.contains(recovered.quarantine[0].name))
    }

    @Test("a bit flipped in each record in turn is reported by verify with its file, offset and height")
    func flippedBitInEveryRecord() throws {
        let scratch = LogScratch("flip-each")
        for height in UInt64(1)...6 {
            let copy = scratch.url.appendingPathComponent("chain-\(height)")
            try FileManager.default.copyItem(at: LogFixture.chainDirectory, to: copy)
            let (segment, offset) = try LogDamage.flipBit(inRecord: height, of: copy)
            let verification = LogVerification(try LogDirectory(path: copy.path), genesis: try genesis)
            let problem = try #require(verification.problem, "record \(height)")
            #expect(problem.kind == .corrupt && problem.height == height && problem.offset == offset, "record \(height): \(problem)")
            #expect(problem.path == copy.appendingPathComponent(segment).path)
            #expect(verification.blocks == Int(height) - 1)
        }
    }

    @Test("without an index only the newest segment is in doubt: damage there is torn, in an older one corrupt")
    func doubtWithoutIndex() throws {
        let scratch = LogScratch("noindex")
        for (height, kind) in [(UInt64(6), LogProblem.Kind.tornWrite), (5, .corrupt)] {
            let copy = scratch.url.appendingPathComponent("chain-\(height)")
            try FileManager.default.copyItem(at: LogFixture.chainDirectory, to: copy)
            try FileManager.default.removeItem(at: copy.appendingPathComponent(SegmentIndex.fileName))
            try LogDamage.flipBit(inRecord: height, of: copy)
            let problem = LogVerification(try LogDirectory(path: copy.path)).problem
            #expect(problem?.kind == kind && problem?.height == height, "\(String(describing: problem))")
        }
    }

    @Test("a forged commit signature passes plain verify and fails verify with the genesis")
    func forgedCommit() throws {
        let scratch = LogScratch("forged")
        let forged = scratch.url.appendingPathComponent("chain")
        try LogDamage.forgeCommitSignature(atHeight: 4, into: forged)
        let directory = try LogDirectory(path: forged.path)
        #expect(LogVerification(directory).passed)
        let verification = LogVerification(directory, genesis: try genesis)
        let problem = try #require(verification.problem)
        #expect(problem.kind == .invalidCommit)
        #expect(problem.height == 4)
        #expect(problem.message.contains("validator 1"))
        #expect(verification.blocks == 3)
    }

    @Test("a missing middle segment is a gap in the heights")
    func missingSegment() throws {
        let scratch = LogScratch("gap")
        let copy = try scratch.copyOfFixture()
        try FileManager.default.removeItem(at: copy.appendingPathComponent(SegmentFormat.segmentName(startHeight: 4)))
        let verification = LogVerification(try LogDirectory(path: copy.path))
        // The index names the missing segment, so opening would not trust it: then the newest
        // segment is the doubtful tail, and opening would set it aside as torn. Verify says so.
        #expect(verification.problem?.kind == .tornWrite)
        #expect(verification.problem?.message.contains("starts at height 6 but the one before it ends at height 3") == true)
        #expect(verification.blocks == 3)
        let listing = LogListing(try LogDirectory(path: copy.path))
        #expect(listing.text.contains("gap: heights 4 to 5 are in no segment"))
        #expect(listing.index.isSound == false)
    }

    @Test("a missing or damaged index is reported but is no failure: it is derived")
    func index() throws {
        let scratch = LogScratch("index")
        let copy = try scratch.copyOfFixture()
        let indexFile = copy.appendingPathComponent(SegmentIndex.fileName)
        try FileManager.default.removeItem(at: indexFile)
        #expect(LogListing(try LogDirectory(path: copy.path)).index == .missing)
        #expect(LogVerification(try LogDirectory(path: copy.path)).passed)
        try Data("MLIX but not an index".utf8).write(to: indexFile)
        guard case .damaged = LogListing(try LogDirectory(path: copy.path)).index else {
            Issue.record("a garbage index should be damaged")
            return
        }
        #expect(LogVerification(try LogDirectory(path: copy.path)).passed)
    }

    @Test("an index entry off its record is stale; one that opening would keep says how to have it rebuilt")
    func staleIndexEntry() throws {
        let scratch = LogScratch("stale")
        let copy = try scratch.copyOfFixture()
        let url = copy.appendingPathComponent(SegmentIndex.fileName)
        var bytes = Array(try Data(contentsOf: url))
        // The entry for height 1 (segment 1, offset 96), found by its bytes; point it one byte on.
        func be64(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let entry = be64(1) + be64(1) + be64(96)
        let at = try #require((0...(bytes.count - entry.count)).first { Array(bytes[$0..<($0 + entry.count)]) == entry })
        bytes[at + 23] = 97
        let crc = Zlib.crc32(bytes[0..<(bytes.count - 4)])
        bytes.replaceSubrange((bytes.count - 4)..., with: be64(UInt64(crc)).suffix(4))
        try Data(bytes).write(to: url)

        let status = LogListing(try LogDirectory(path: copy.path)).index
        #expect(status == .stale("the entry for height 1 points at offset 97 of segment-00000000000000000001.mlseg; the record is at offset 96", openRebuilds: false))
        #expect(status.text.contains("delete index.mlidx"))
        #expect(LogVerification(try LogDirectory(path: copy.path)).passed)
    }

    @Test("transactions whose bodies do not decode are dumped with their error, not a crash")
    func undecodableBodies() throws {
        let scratch = LogScratch("odd")
        let transactions = [
            Transaction(txType: 99, signer: Bytes32(repeating: 1), nonce: 1, body: [1, 2, 3], signature: Bytes64(repeating: 2)),
            Transaction(txType: 8, signer: Bytes32(repeating: 3), nonce: 1, body: [0xFF], signature: Bytes64(repeating: 4)),
        ]
        let header = BlockHeader(
            chainID: "medledger-log-odd", height: 1, time: 1_795_000_000_000, previousHash: .zero, lastCommitHash: .zero,
            transactionsRoot: LedgerState.transactionsRoot(transactions), evidenceRoot: .zero, stateRoot: .zero,
            validatorsHash: .zero, nextValidatorsHash: .zero, proposer: .zero)
        let commit = CommitCertificate(
            height: 1, round: 0, blockHash: header.hash,
            signatures: [CommitSignature(validatorIndex: 0, timestamp: 1, signature: Bytes64(repeating: 0))])
        let (log, _) = try SegmentLog.open(directory: scratch.path, chainID: "medledger-log-odd")
        try log.append(CommittedBlock(block: Block(header: header, transactions: transactions, evidence: [], lastCommit: nil), commit: commit))
        log.close()

        let directory = try LogDirectory(path: scratch.path)
        let line = try #require(try dumpLines(directory, json: true).first)
        let json = try JSONValue(parsing: line)
        guard case .array(let rendered)? = json["transactions"], rendered.count == 2 else {
            Issue.record("expected two transactions: \(line)")
            return
        }
        #expect(rendered[0]["type"] == .null)
        #expect(rendered[0]["decode_error"]?["error"] == .string("unknown_transaction_type"))
        #expect(rendered[1]["type"] == .string("grant_consent"))
        #expect(rendered[1]["decode_error"]?["error"] == .string("malformed"))
        #expect(rendered[1]["decode_error"]?["body_error"] != nil)
        let text = try dumpLines(directory, json: false).joined()
        #expect(text.contains("[0] unknown type 99"))
        #expect(text.contains("body does not decode: malformed"))
        #expect(try LogStats(directory).transactionsByType.map(\.name) == ["grant_consent", "unknown type 99"])
        #expect(LogVerification(directory).passed)
    }

    // MARK: Mistakes

    @Test("a missing directory, a file, a directory that is not a log: what is wrong and how to fix it")
    func badDirectories() throws {
        let scratch = LogScratch("empty")
        let cases: [(String, String, String)] = [
            ("/nonexistent/medledger", "no such directory", "segment-*.mlseg"),
            (LogFixture.genesisFile.path, "is a file, not a log directory", "not a file"),
            (LogFixture.chainDirectory.appendingPathComponent(SegmentFormat.segmentName(startHeight: 1)).path, "is a file", "give the directory holding it"),
            (scratch.path, "is not a MedLedger segment log", "Protocol/LOG.md section 1"),
            (LogFixture.directory.path, "is not a MedLedger segment log", "its subdirectory \(LogFixture.chainDirectory.path) is one"),
        ]
        for (path, message, hint) in cases {
            do {
                _ = try LogDirectory(path: path)
                Issue.record("\(path) should be refused")
            } catch {
                #expect(error.message.contains(message), "\(error)")
                #expect(error.hint?.contains(hint) == true, "\(error)")
            }
        }
    }

    @Test("a genesis file that is missing, not JSON or not a genesis is refused with its reason")
    func badGenesis() throws {
        let scratch = LogScratch("genesis")
        let notJSON = scratch.url.appendingPathComponent("not.json")
        try Data("chain_id: x".utf8).write(to: notJSON)
        let wrong = scratch.url.appendingPathComponent("wrong.json")
        try Data(#"{"chain_id": "medledger-x", "genesis_time": 1, "facilities": []}"#.utf8).write(to: wrong)
        for (path, message) in [
            (scratch.url.appendingPathComponent("absent.json").path, "no such file"),
            (notJSON.path, "not valid JSON"),
            (wrong.path, "at least one facility"),
        ] {
            do {
                _ = try LogVerification.loadGenesis(path)
                Issue.record("\(path) should be refused")
            } catch {
                #expect(error.message.contains(path) && error.message.contains(message), "\(error)")
                #expect(error.hint?.contains("LEDGER.md section 2") == true)
            }
        }
    }
}
