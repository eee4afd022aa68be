import Foundation
import MedLedgerInspect
import MedLedgerStore
import MedLedgerTestSupport
import MedLedgerWire
import Testing

@Suite("medledger-inspect log (the binary)", .serialized)
struct LogCommandTests {
    let chain = LogFixture.chainDirectory.path
    let genesis = LogFixture.genesisFile.path

    func golden(_ name: String) throws -> String {
        try String(contentsOf: LogGolden.directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("ls, dump, stats and verify on the fixture exit 0 and print their golden output")
    func fixture() throws {
        #expect(FileManager.default.isExecutableFile(atPath: InspectBinary.url.path), "build the products first")
        for (arguments, goldenFile) in [
            (["log", "ls", chain], "log-ls.txt"),
            (["log", "stats", chain], "log-stats.txt"),
            (["log", "verify", "--genesis", genesis, chain], "log-verify.txt"),
        ] {
            let result = try InspectBinary.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(LogGolden.normalised(result.stdout) == (try golden(goldenFile)), "\(arguments)")
        }
        let dump = try InspectBinary.run(["log", "dump", chain])
        #expect(dump.status == 0)
        #expect(LogGolden.normalised(dump.stdout) == (try golden("log-dump.txt")))

        let plain = try InspectBinary.run(["log", "verify", chain])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("signatures not checked (pass --genesis FILE to verify them)"))
    }

    @Test("dump --json prints one object per block and line; --from and --to choose the heights")
    func dumpJSON() throws {
        let all = try InspectBinary.run(["log", "dump", "--json", chain])
        #expect(all.status == 0)
        let lines = all.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        for (index, line) in lines.enumerated() {
            let json = try JSONValue(parsing: line)
            #expect(json["height"] == .int(index + 1))
            #expect(json["tx_count"] != nil && json["hash"] != nil && json["proposer"] != nil && json["time"] != nil)
        }
        let some = try InspectBinary.run(["log", "dump", "--json", "--from", "3", "--to", "4", chain])
        let heights = try some.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0))["height"] }
        #expect(heights == [.int(3), .int(4)])
    }

    @Test("find prints the height and index of a transaction; an unknown id exits 1 with \"not found\"")
    func find() throws {
        let line = try #require(try InspectBinary.run(["log", "dump", "--json", "--from", "5", "--to", "5", chain]).stdout.split(separator: "\n").first)
        guard case .array(let transactions)? = try JSONValue(parsing: String(line))["transactions"],
            case .string(let id)? = transactions.last?["id"]
        else {
            Issue.record("no transaction id in \(line)")
            return
        }
        let found = try InspectBinary.run(["log", "find", chain, id])
        #expect(found.status == 0)
        #expect(found.stdout.hasPrefix("height 5 index 1 (access_entry"))

        let missing = try InspectBinary.run(["log", "find", chain, String(repeating: "ab", count: 32)])
        #expect(missing.status == 1)
        #expect(missing.stdout.hasPrefix("not found"))

        let malformed = try InspectBinary.run(["log", "find", chain, "12345"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("'12345' is not a transaction id") && malformed.stderr.contains("hint:"))
    }

    @Test("a bit flipped in record 3: verify exits 1 naming the file, the offset and height 3")
    func flippedBit() throws {
        let scratch = LogScratch("cli-flip")
        let copy = try scratch.copyOfFixture()
        let (segment, offset) = try LogDamage.flipBit(inRecord: 3, of: copy)
        let before = try LogFixture.files(in: scratch.url)
        for arguments in [["log", "verify", copy.path], ["log", "verify", "--genesis", genesis, copy.path]] {
            let result = try InspectBinary.run(arguments)
            #expect(result.status == 1)
            #expect(result.stdout.hasPrefix("FAILED"))
            #expect(result.stdout.contains("corrupt: the record's CRC does not match"))
            #expect(result.stdout.contains("\(copy.appendingPathComponent(segment).path), offset \(offset), height 3"), "\(result.stdout)")
        }
        let stats = try InspectBinary.run(["log", "stats", copy.path])
        #expect(stats.status == 1)
        #expect(stats.stderr.contains("height 3"))
        #expect(try LogFixture.files(in: scratch.url) == before, "the inspector changed the directory")
    }

    @Test("a forged commit signature fails verify --genesis with exit 1; plain verify cannot see it")
    func forgedCommit() throws {
        let scratch = LogScratch("cli-forged")
        let forged = scratch.url.appendingPathComponent("chain")
        try LogDamage.forgeCommitSignature(atHeight: 4, into: forged)
        let plain = try InspectBinary.run(["log", "verify", forged.path])
        #expect(plain.status == 0, "\(plain.stdout)")
        let result = try InspectBinary.run(["log", "verify", "--genesis", genesis, forged.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("invalid commit: the block's commit certificate: the precommit signature of validator 1 does not verify"))
        #expect(result.stdout.contains("height 4"))
    }

    @Test("a truncated tail is reported with its file, offset and height, exit 1, and left in place")
    func truncatedTail() throws {
        let scratch = LogScratch("cli-cut")
        let copy = try scratch.copyOfFixture()
        let (_, offset, _) = try LogDamage.record(6, in: copy)
        let segment = try LogDamage.truncateTail(of: copy, by: 100)
        let before = try LogFixture.files(in: scratch.url)
        // The index says block 6 was fsynced: its loss is corruption.
        let durable = try InspectBinary.run(["log", "verify", "--genesis", genesis, copy.path])
        #expect(durable.status == 1)
        #expect(durable.stdout.contains("corrupt: the record runs past the end of the file"), "\(durable.stdout)")
        #expect(durable.stdout.contains("\(segment.path), offset \(offset), height 6"), "\(durable.stdout)")
        #expect(durable.stdout.contains("blocks 1 to 5 passed every check"))
        #expect(try LogFixture.files(in: scratch.url) == before, "the inspector changed the directory")

        // Had the crash come before block 6 was durable, it is a torn write that opening cuts off.
        try LogDamage.moveFrontier(of: copy, toEndOf: 5)
        let torn = try InspectBinary.run(["log", "verify", copy.path])
        #expect(torn.status == 1)
        #expect(torn.stdout.contains("torn write: the record runs past the end of the file"), "\(torn.stdout)")
        #expect(torn.stdout.contains("\(segment.path), offset \(offset), height 6"))
        #expect(torn.stdout.contains("quarantine/"))
        let listing = try InspectBinary.run(["log", "ls", copy.path])
        #expect(listing.status == 0)
        #expect(listing.stdout.contains("! torn write"))
    }

    @Test(
        "mistakes print what was wrong and how to fix it, and exit 2",
        arguments: [
            (["log", "ls", "/nonexistent/medledger-chain"], "no such directory: /nonexistent/medledger-chain"),
            (["log", "verify", LogFixture.directory.path], "is not a MedLedger segment log"),
            (["log", "stats", LogFixture.genesisFile.path], "is a file, not a log directory"),
            (["log", "verify", "--genesis", "/nonexistent/genesis.json", LogFixture.chainDirectory.path], "cannot read the genesis file"),
            (["log", "verify", "--genesis", LogFixture.chainDirectory.appendingPathComponent("index.mlidx").path, LogFixture.chainDirectory.path], "is not a valid genesis file"),
            (["log", "dump", "--from", "7", LogFixture.chainDirectory.path], "the log holds heights 1 to 6"),
        ])
    func mistakes(arguments: [String], message: String) throws {
        let result = try InspectBinary.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stdout)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("hint: "), "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("--help lists the subcommands and the exit statuses")
    func help() throws {
        let help = try InspectBinary.run(["log", "--help"])
        #expect(help.status == 0)
        for word in ["ls", "dump", "verify", "stats", "find", "Exit status"] { #expect(help.stdout.contains(word)) }
        let top = try InspectBinary.run(["--help"])
        #expect(top.stdout.contains("log"))
    }
}
