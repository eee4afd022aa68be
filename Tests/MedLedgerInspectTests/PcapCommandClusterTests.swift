import Foundation
import MedLedgerWire
import Testing

/// `medledger-inspect pcap` as a network engineer runs it (starts the binary: serialized with the
/// port and process suites by its name).
@Suite("medledger-inspect pcap: the command")
struct PcapCommandClusterTests {
    static let pcap = CaptureFixtures.directory.appendingPathComponent("cluster.pcap").path
    static let keylog = CaptureFixtures.directory.appendingPathComponent("cluster.keylog").path

    @Test("a file and the same bytes on standard input give the same lines")
    func fileAndStandardInput() throws {
        let file = try InspectBinary.run(["pcap", "--keylog", Self.keylog, Self.pcap])
        #expect(file.status == 0)
        let process = Process()
        process.executableURL = InspectBinary.url
        process.arguments = ["pcap", "--keylog", Self.keylog, "-"]
        let output = Pipe()
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: Self.pcap))
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: data, as: UTF8.self) == file.stdout)
        #expect(file.stdout.split(separator: "\n").count > 400)
    }

    @Test("--stats --json: one object with the counts by type")
    func statsJSON() throws {
        let result = try InspectBinary.run(["pcap", "--stats", "--json", "--keylog", Self.keylog, Self.pcap])
        #expect(result.status == 0)
        let json = try JSONValue(parsing: result.stdout)
        #expect(json["by_type"]?["vote"]?["messages"] == .int(260))
        #expect(json["handshakes"]?["established"] == .int(6))
    }

    @Test("--type and --height select messages")
    func filters() throws {
        let result = try InspectBinary.run(["pcap", "--keylog", Self.keylog, "--type", "vote", "--height", "2", Self.pcap])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.contains(" VOTE ") && $0.contains(" height=2 ") })
        let bad = try InspectBinary.run(["pcap", "--type", "votes", Self.pcap])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("not a message type"))
    }

    @Test("a malformed capture exits 1 with the error kind and its offset")
    func malformed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pcap-command-\(getpid()).pcap").path
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.pcap)))
        bytes[20] = 147
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try InspectBinary.run(["pcap", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("unknown_link_type at byte 20"))
    }
}
