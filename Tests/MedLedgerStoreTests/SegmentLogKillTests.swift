import Foundation
@testable import MedLedgerStore
import MedLedgerWire
import Testing

/// The child side of the SIGKILL test: when `MEDLEDGER_KILL_WRITER_DIR` is set, append blocks of
/// the deterministic synthetic chain forever, printing each height once it is durable.
@Suite("segment log writer process")
struct SegmentLogWriterProcess {
    @Test("writer (does nothing unless started by the SIGKILL test)")
    func writer() throws {
        guard let directory = ProcessInfo.processInfo.environment["MEDLEDGER_KILL_WRITER_DIR"] else { return }
        let (log, _) = try SegmentLog.open(
            directory: directory, chainID: SyntheticChain.chainID, options: SegmentLog.Options(maxSegmentSize: 64 * 1024))
        var chain = SyntheticChain()
        for _ in 0..<log.lastHeight { chain.next() }
        while true {
            let block = chain.next()
            try log.append(block)
            FileHandle.standardOutput.write(Data("durable \(block.block.header.height)\n".utf8))
        }
    }
}

@Suite("segment log under SIGKILL", .serialized)
struct SegmentLogKillTests {
    @Test("a writer killed with SIGKILL mid-append 50 times reopens cleanly with every acknowledged block")
    func killedWriter() throws {
        let dir = TemporaryDirectory("kill")
        var reference = SyntheticChain()
        var acknowledged: UInt64 = 0
        var rng = SystemRandomNumberGenerator()
        for round in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = ["--testing-library", "swift-testing", "--filter", "SegmentLogWriterProcess/writer"]
            var environment = ProcessInfo.processInfo.environment
            environment["MEDLEDGER_KILL_WRITER_DIR"] = dir.path
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Let it start and write for a while, then kill it without warning.
            usleep(UInt32.random(in: 150_000...400_000, using: &rng))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let heights = text.split(separator: "\n").compactMap { line in
                line.hasPrefix("durable ") ? UInt64(line.dropFirst(8)) : nil
            }
            acknowledged = max(acknowledged, heights.max() ?? 0)

            let (log, report) = try SegmentLog.open(
                directory: dir.path, chainID: SyntheticChain.chainID, options: SegmentLog.Options(maxSegmentSize: 64 * 1024))
            #expect(log.lastHeight >= acknowledged, "round \(round): \(report)")
            while UInt64(reference.blocks.count) < log.lastHeight { reference.next() }
            // Spot-check: the last block, one in the middle, the first.
            for height in Set([1, max(1, log.lastHeight / 2), log.lastHeight]) where log.lastHeight > 0 {
                #expect(try log.read(height: height) == reference.blocks[Int(height) - 1], "round \(round), height \(height)")
            }
            acknowledged = log.lastHeight
            log.close()
        }
        #expect(acknowledged > 50, "the writer should have made progress")
    }
}
