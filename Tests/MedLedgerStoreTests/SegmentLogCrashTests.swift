@testable import MedLedgerStore
import MedLedgerWire
import Testing

/// Crash tests on the fault-injecting file system: the log runs on it exactly as on a real disk;
/// a crash at a seeded point loses or tears every write not yet fsynced.
@Suite("segment log crash recovery")
struct SegmentLogCrashTests {
    static let directory = "/data/chain"

    /// One seed: append until a crash freezes the disk, crash, reopen; every block whose append
    /// returned must be there, and nothing else may be, or differ.
    static func run(seed: UInt64, options: SegmentLog.Options) throws -> (acknowledged: UInt64, recovered: UInt64) {
        let fs = SimulatedFileSystem(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xC0FFEE)
        var chain = SyntheticChain(seed: seed)
        var acknowledged: UInt64 = 0
        // Some blocks before the crash is even scheduled, then a crash after a random number of operations.
        let (log, _) = try SegmentLog.open(directory: directory, chainID: SyntheticChain.chainID, options: options, fileSystem: fs)
        let before = Int(rng.next() % 6)
        for _ in 0..<before {
            try log.append(chain.next(transactions: Int(rng.next() % 4)))
            acknowledged += 1
        }
        fs.scheduleCrash(afterOperations: Int(rng.next() % 40))
        appending: for _ in 0..<30 {
            // A mix of single appends and group commits.
            let group = 1 + Int(rng.next() % 3)
            var tickets: [SegmentLog.AppendTicket] = []
            for _ in 0..<group {
                guard let ticket = try? log.submit(chain.next(transactions: Int(rng.next() % 4))) else { break appending }
                tickets.append(ticket)
            }
            for ticket in tickets {
                do {
                    try ticket.wait()
                    acknowledged = max(acknowledged, ticket.height)
                } catch {
                    break appending
                }
            }
        }
        log.close()
        fs.crash(seed: seed)

        let (recovered, report) = try SegmentLog.open(directory: directory, chainID: SyntheticChain.chainID, options: options, fileSystem: fs)
        defer { recovered.close() }
        #expect(recovered.lastHeight >= acknowledged, "seed \(seed): acknowledged \(acknowledged), recovered \(recovered.lastHeight) (\(report))")
        #expect(recovered.lastHeight <= UInt64(chain.blocks.count), "seed \(seed): invented blocks")
        for height in stride(from: UInt64(1), through: recovered.lastHeight, by: 1) {
            #expect(try recovered.read(height: height) == chain.blocks[Int(height) - 1], "seed \(seed), height \(height)")
        }
        // The recovered log accepts the next block.
        if recovered.lastHeight < UInt64(chain.blocks.count) {
            try recovered.append(chain.blocks[Int(recovered.lastHeight)])
        }
        return (acknowledged, recovered.lastHeight)
    }

    @Test("after a crash at any of 1,000 seeded points, every acknowledged block is kept and nothing is invented")
    func thousandSeeds() throws {
        var totalAcknowledged: UInt64 = 0
        var lostUnacknowledged = 0
        for seed in 0..<UInt64(1000) {
            // Small segments and a small index interval, so crashes also hit rolls and index writes.
            let options = SegmentLog.Options(maxSegmentSize: seed % 2 == 0 ? 2048 : 64 << 20, indexInterval: 3)
            let (acknowledged, recovered) = try Self.run(seed: seed, options: options)
            totalAcknowledged += acknowledged
            if recovered == acknowledged { lostUnacknowledged += 1 }
        }
        #expect(totalAcknowledged > 1000, "the crashes should not all come before any append")
    }
}

