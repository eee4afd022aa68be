import ArgumentParser
import Foundation
import MedLedgerInspect
import MedLedgerStore

/// `medledger-inspect log ...`: lists, dumps, verifies and searches a node's segment log
/// (Protocol/LOG.md). Read-only but for `repair`, which an operator runs on purpose.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect and verify a node's segment log (Protocol/LOG.md), read-only.",
        discussion: """
            DIR is the directory a node keeps its chain in: segment-<height>.mlseg files, index.mlidx and quarantine/. \
            The files are opened read-only and never changed: a torn tail is reported, not cut off, so these \
            commands also work on a log the node refuses to open.

            Exit status: 0 when all went well; 1 when verify found a failure, find did not find the transaction, \
            or dump, stats or find met a damaged record; 2 when the command could not run (no such directory, \
            not a log, a bad genesis file or transaction id); 64 for a mistake in the command line itself.

            Examples, in Protocol/vectors/log (a fixture chain and its genesis):
              medledger-inspect log ls chain
              medledger-inspect log verify --genesis genesis.json chain
              medledger-inspect log dump --from 3 --to 4 --json chain
              medledger-inspect log find chain TXID
            """,
        subcommands: [LogListCommand.self, LogDumpCommand.self, LogVerifyCommand.self, LogStatsCommand.self, LogFindCommand.self, LogRepairCommand.self]
    )
}

/// Runs a log subcommand: a mistake in what it was given exits 2 with the message and its hint, a
/// damaged log exits 1 with where the damage is.
enum LogCommandRunner {
    static func run(_ body: () throws -> Int32) throws {
        let status: Int32
        do {
            status = try body()
        } catch let error as InspectError {
            printError("Error: \(error)")
            throw ExitCode(2)
        } catch let problem as LogProblem {
            printError("Error: \(problem)")
            printError("  hint: `medledger-inspect log verify DIR` reports every check up to the first failure")
            throw ExitCode(1)
        }
        if status != 0 { throw ExitCode(status) }
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

struct LogListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the segments (heights, sizes, records, compression), the index status and the quarantine.",
        discussion: "Reads record headers only, so it is quick on a large log and shows damage without stopping at it.")

    @Argument(help: "The log directory.")
    var directory: String

    func run() throws {
        try LogCommandRunner.run {
            print(LogListing(try LogDirectory(path: directory)).text)
            return 0
        }
    }
}

struct LogDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print each block's header and its transactions, decoded.",
        discussion: """
            Signatures are not checked here (verify does). A transaction body that does not decode is shown \
            with its error. With --json, one JSON object per block and line: height, hash, time, proposer, \
            tx_count and the transactions as the ledger renders them (with decoded_body, or decode_error).
            """)

    @Argument(help: "The log directory.")
    var directory: String

    @Option(name: .long, help: "The first height to print.")
    var from: UInt64 = 1

    @Option(name: .long, help: "The last height to print (default: the last block).")
    var to: UInt64?

    @Flag(name: .long, help: "Print one JSON object per block and line.")
    var json = false

    func validate() throws {
        guard from >= 1 else { throw ValidationError("--from is a height, 1 or more") }
        if let to, to < from { throw ValidationError("--to \(to) is below --from \(from)") }
    }

    func run() throws {
        try LogCommandRunner.run {
            try LogDump.run(try LogDirectory(path: directory), from: from, through: to, json: json) { print($0) }
            return 0
        }
    }
}

struct LogVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every record, block link and root; with --genesis, every commit certificate too.",
        discussion: """
            Checks everything Protocol/LOG.md section 8 lists, reading the files directly: it never truncates \
            or rebuilds anything, and runs on a log the node refuses to open. The first failure is printed \
            with its file, offset and height, and the exit status is 1.

            With --genesis, every commit certificate is verified against the genesis validator set \
            (Protocol/LEDGER.md section 4), the chain id must match, and every transaction must decode and \
            carry a valid signature.
            """)

    @Argument(help: "The log directory.")
    var directory: String

    @Option(name: .long, help: "The chain's genesis JSON file, to verify commit certificates and signatures.")
    var genesis: String?

    func run() throws {
        try LogCommandRunner.run {
            let log = try LogDirectory(path: directory)
            let genesis = try genesis.map { path throws(InspectError) in try LogVerification.loadGenesis(path) }
            let verification = LogVerification(log, genesis: genesis)
            print(verification.text)
            return verification.passed ? 0 : 1
        }
    }
}

struct LogStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count blocks, transactions by type, and bytes stored against inflated.")

    @Argument(help: "The log directory.")
    var directory: String

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        try LogCommandRunner.run {
            let stats = try LogStats(try LogDirectory(path: directory))
            print(json ? stats.json.description : stats.text)
            return 0
        }
    }
}

struct LogFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Find a transaction by its id: its height and index in the block.",
        discussion: "Exits 1 with \"not found\" when no block holds it.")

    @Argument(help: "The log directory.")
    var directory: String

    @Argument(help: "The transaction id: 64 hex digits (SHA-256 of the transaction).")
    var txid: String

    func run() throws {
        try LogCommandRunner.run {
            let log = try LogDirectory(path: directory)
            let id = try LogFound.parseID(txid)
            let (found, lastHeight) = try LogFound.find(id, in: log)
            guard let found else {
                print("not found: no block of \(directory) (heights 1 to \(lastHeight)) holds transaction \(id.hex)")
                return 1
            }
            print(found.text)
            return 0
        }
    }
}

/// `log repair DIR --truncate-after H`: the operator's way out of corruption that `open` refuses.
struct LogRepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Cut the log after a height, copying everything after it to quarantine/ first.",
        discussion: """
            For a log the node refuses to open because a record is corrupt: `log verify DIR` names the first bad
            height H; `log repair DIR --truncate-after H-1` keeps blocks 1 to H-1 and moves the rest aside (never
            deleting it), so the node can start and fetch the later blocks from its peers. Stop the node first.
            This is the only log subcommand that changes the directory.
            """)

    @Argument(help: "The log directory.")
    var directory: String

    @Option(name: .customLong("truncate-after"), help: "The last height to keep.")
    var height: UInt64

    func run() throws {
        try LogCommandRunner.run {
            let log = try LogDirectory(path: directory)
            guard let first = log.segments.first else {
                throw InspectError("no segments in \(directory)", hint: "give the directory holding segment-*.mlseg files")
            }
            let header: [UInt8]
            do {
                header = try PosixFileSystem().readAll(first.path)
            } catch {
                throw InspectError("cannot read \(first.path): \(error)")
            }
            guard header.count >= SegmentFormat.segmentHeaderSize, (1...64).contains(Int(header[16])) else {
                throw InspectError("\(first.path) has no readable segment header", hint: "repair needs the first segment intact")
            }
            let chainID = String(decoding: header[17..<(17 + Int(header[16]))], as: UTF8.self)
            do {
                let moved = try SegmentLog.repair(directory: directory, chainID: chainID, truncateAfter: height)
                print("kept heights 1 to \(height); moved aside:")
                for path in moved { print("  \(path)") }
                if moved.isEmpty { print("  nothing (the log ends at or before \(height))") }
            } catch {
                throw InspectError("repair failed: \(error)")
            }
            return 0
        }
    }
}
