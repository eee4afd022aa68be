import Foundation
import MedLedgerTestSupport
import Testing

/// The fixtures and golden files of `medledger-inspect pcap` (Fixtures/capture/).
enum CaptureFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/capture")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// Compares `lines` with `Fixtures/capture/<name>`; MEDLEDGER_WRITE_VECTORS=1 rewrites it.
    static func check(_ lines: [String], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(name)
        let actual = lines.joined(separator: "\n") + "\n"
        if VectorFiles.regenerating { try actual.write(to: url, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "\(name) differs (MEDLEDGER_WRITE_VECTORS=1 rewrites it)", sourceLocation: sourceLocation)
    }
}
