import Foundation
import MedLedgerInspect
import MedLedgerLedger
import MedLedgerStore
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// The golden files of the `log` subcommands' readable output.
enum LogGolden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Output with the fixture's absolute path replaced by the path as typed from the repository root.
    static func normalised(_ text: String) -> String {
        text.replacingOccurrences(of: LogFixture.chainDirectory.path, with: LogFixture.displayPath)
    }

    /// Compares `text` with `Golden/<name>`; rewrites the file when regenerating.
    static func check(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(name)
        let actual = normalised(text) + "\n"
        if VectorFiles.regenerating { try actual.write(to: url, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "\(name) differs (MEDLEDGER_WRITE_VECTORS=1 rewrites it)", sourceLocation: sourceLocation)
    }
}

@Suite("Protocol/vectors/log: the log fixture", .serialized)
struct LogFixtureTests {
    @Test("the fixture is what the code writes (MEDLEDGER_WRITE_VECTORS=1 rewrites it), byte for byte")
    func fixtureMatchesTheCode() throws {
        let (genesis, blocks) = try LogFixture.build()
        #expect(blocks.count == 6)
        let scratch = LogScratch("fixture")
        let fresh = scratch.url.appendingPathComponent("chain")
        try LogFixture.writeLog(blocks, to: fresh.path)
        if VectorFiles.regenerating {
            try? FileManager.default.removeItem(at: LogFixture.chainDirectory)
            try FileManager.default.createDirectory(at: LogFixture.directory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: fresh, to: LogFixture.chainDirectory)
            try LogFixture.genesisText(genesis).write(to: LogFixture.genesisFile, atomically: true, encoding: .utf8)
        }
        let expected = try LogFixture.files(in: fresh)
        let committed = try LogFixture.files(in: LogFixture.chainDirectory)
        #expect(Set(committed.keys) == Set(expected.keys), "the fixture's files: run MEDLEDGER_WRITE_VECTORS=1 to regenerate")
        for (name, bytes) in expected { #expect(committed[name] == bytes, "\(name) differs from what the code writes") }
        #expect(try String(contentsOf: LogFixture.genesisFile, encoding: .utf8) == LogFixture.genesisText(genesis))
        #expect(try Genesis(json: String(contentsOf: LogFixture.genesisFile, encoding: .utf8)) == genesis)

        // The store itself reads the fixture back block for block.
        let reopen = scratch.url.appendingPathComponent("reopened")
        try FileManager.default.copyItem(at: LogFixture.chainDirectory, to: reopen)
        let (log, report) = try SegmentLog.open(directory: reopen.path, chainID: LogFixture.chainID, options: LogFixture.options)
        defer { log.close() }
        #expect(report.lastHeight == 6 && report.tornTail == nil && !report.indexRebuilt)
        #expect(log.segmentPaths.count >= 2, "the fixture should roll at least one segment")
        for block in blocks { #expect(try log.read(height: block.block.header.height) == block) }
    }
}
