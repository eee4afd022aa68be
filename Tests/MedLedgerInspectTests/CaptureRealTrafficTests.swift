import Foundation
import MedLedgerInspect
import MedLedgerWire
import Testing

/// The fixtures of Tools/capture-fixtures: a real four-node cluster on loopback, captured with
/// tcpdump with every node's key log on, and the frame counters the nodes wrote as they stopped.
@Suite("medledger-inspect pcap: a real cluster's capture")
struct CaptureRealTrafficTests {
    struct Counts: Decodable {
        var sent: [String: Int]
        var received: [String: Int]
    }

    static func counts() throws -> Counts {
        try JSONDecoder().decode(Counts.self, from: Data(try CaptureFixtures.bytes("cluster-counts.json")))
    }

    static func run(_ name: String, keys: Bool = true) throws -> (lines: [String], statistics: CaptureStatistics, error: CaptureError?) {
        inspect(try CaptureFixtures.bytes(name), keyLog: keys ? try CaptureFixtures.text("cluster.keylog") : nil)
    }

    @Test("per-type message counts equal what the nodes counted", arguments: ["cluster.pcap", "cluster.pcapng"])
    func countsMatchTheNodes(file: String) throws {
        let counts = try Self.counts()
        for keys in [false, true] {
            let result = try Self.run(file, keys: keys)
            #expect(result.error == nil)
            let seen = Dictionary(uniqueKeysWithValues: result.statistics.byType.map { ($0.key.name, $0.value.messages) })
            // Every frame the nodes read was on the wire, and nothing else was.
            #expect(seen == counts.received, "\(file) keys: \(keys)")
            // Every frame the nodes sealed too, but for the DISCONNECTs sealed while stopping,
            // after each node wrote its last counters.
            #expect(seen.filter { $0.key != "disconnect" } == counts.sent.filter { $0.key != "disconnect" })
            #expect(result.statistics.gaps == 0)
            #expect(result.statistics.malformedFrames.isEmpty)
        }
    }

    @Test("with the nodes' key log every sealed frame opens, and every handshake is established")
    func everythingOpens() throws {
        let result = try Self.run("cluster.pcap")
        let statistics = result.statistics
        #expect(statistics.decryptionFailures == 0)
        #expect(statistics.sealedUnopened == 0)
        #expect(statistics.decryptedFrames == statistics.total.messages - statistics.byType[.hello]!.messages)
        #expect(statistics.connections.count == 6)
        #expect(statistics.connections.allSatisfy { $0.handshake == "established" && $0.decrypted && $0.channel == "peer" })
        #expect(result.lines.contains { $0.contains(" VOTE ") && $0.contains("vote_type=precommit") && $0.contains("height=3") })
        #expect(result.lines.contains { $0.contains(" PROPOSAL ") && $0.contains("height=1") })
    }

    @Test("pcap and pcapng of the same packets give the same output")
    func pcapAndPcapngAgree() throws {
        let pcap = try Self.run("cluster.pcap")
        let pcapng = try Self.run("cluster.pcapng")
        #expect(pcap.lines == pcapng.lines)
    }

    @Test("decoding on a second thread (how the command reads a file) gives the same records and counts")
    func pipelined() throws {
        for name in ["cluster.pcap", "cluster.pcapng"] {
            let bytes = try CaptureFixtures.bytes(name)
            var options = CaptureOptions()
            options.keyLog = try KeyLog.parse(try CaptureFixtures.text("cluster.keylog"))
            let inspector = CaptureInspector(options: options)
            final class Lines: @unchecked Sendable { var lines: [String] = [] }
            let collected = Lines()
            inspector.startPipeline { collected.lines.append($0.text) }
            var index = 0
            while index < bytes.count {
                try inspector.feed(bytes[index..<min(index + 4096, bytes.count)]) { _ in Issue.record("emit is not used when pipelined") }
                index += 4096
            }
            try inspector.finish { _ in Issue.record("emit is not used when pipelined") }
            let direct = try Self.run(name)
            #expect(collected.lines == direct.lines)
            #expect(inspector.statistics.text == direct.statistics.text)
        }
    }

    @Test("the key fields of the real traffic (golden)")
    func golden() throws {
        let result = try Self.run("cluster.pcap")
        try CaptureFixtures.check(result.lines, "golden-cluster.txt")
        try CaptureFixtures.check([result.statistics.text], "golden-cluster-stats.txt")
    }
}
