import Foundation
import Testing

/// Starts four node processes: runs with the port-binding suites (the name matches
/// `ClusterTests` in Tools/test's serialized stage).
@Suite("medledger demo (four node processes)", .serialized)
struct DemoClusterTests {
    @Test("the demo runs the whole story on four nodes, and every node's chain verifies")
    func demo() throws {
        let medledger = InspectBinary.url.deletingLastPathComponent().appendingPathComponent("medledger")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-demo-test-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = medledger
        process.arguments = ["demo", "--dir", dir.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        for expected in [
            "\"HbA1c 5.4 %, LDL 2.9 mmol/l\"", "\"bitewing x-ray: no caries, filling on 36 intact\"", "refused (no_consent",
            "only then can the institute open the key", "next read is refused (consent_revoked",
            "access_refused (no_consent) by North Research Institute", "break_glass by Dr. Ada Ortiz",
            "Alice's phone, subscribed to her audit events: height", "record_erased by Alice",
            "all 4 nodes hold identical chains",
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
        for node in 0..<4 {
            let home = dir.appendingPathComponent("node\(node)")
            let verify = try InspectBinary.run([
                "log", "verify", home.appendingPathComponent("data/log").path, "--genesis", home.appendingPathComponent("genesis.json").path,
            ])
            #expect(verify.status == 0, "node\(node): \(verify.stdout)\(verify.stderr)")
        }
    }
}

@Suite("medledger-inspect log repair (the binary)", .serialized)
struct LogRepairCommandTests {
    @Test("repair cuts a corrupt log after a height, moving the rest aside; verify then passes")
    func repair() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-repair-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let copy = scratch.appendingPathComponent("chain")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: LogFixture.chainDirectory, to: copy)
        try LogDamage.flipBit(inRecord: 4, of: copy)
        #expect(try InspectBinary.run(["log", "verify", copy.path]).status == 1)
        let repaired = try InspectBinary.run(["log", "repair", copy.path, "--truncate-after", "3"])
        #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
        #expect(repaired.stdout.contains("kept heights 1 to 3"))
        let verify = try InspectBinary.run(["log", "verify", copy.path])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("heights 1 to 3"))
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: copy.appendingPathComponent("quarantine").path)
        #expect(!quarantine.isEmpty)
    }
}
