import MedLedgerInspect
import MedLedgerWire
import Testing

/// Every capture format and link type, on a synthetic conversation with a real handshake.
@Suite("medledger-inspect pcap: formats and link types")
struct CaptureFormatTests {
    static let conversation = SyntheticConversation.standard()
    static let formats: [CaptureWriter.Format] = [
        .pcap(bigEndian: false, nanoseconds: false), .pcap(bigEndian: true, nanoseconds: false),
        .pcap(bigEndian: false, nanoseconds: true), .pcap(bigEndian: true, nanoseconds: true),
        .pcapng(bigEndian: false), .pcapng(bigEndian: true),
    ]

    static func capture(_ builder: TCPConversationBuilder, link: LinkFraming, format: CaptureWriter.Format) -> [UInt8] {
        let packets = builder.packets(builder.segments(conversation), link: link)
        let linkType = link.linkType(ipv6: builder.client.address.count == 16)
        switch format {
        case .pcap(let big, let nanos):
            return CaptureWriter.pcap(packets, linkType: linkType, bigEndian: big, nanoseconds: nanos)
        case .pcapng(let big):
            return CaptureWriter.pcapngSection(
                packets, interfaces: [CaptureWriter.Interface(linkType: UInt16(linkType), resolution: big ? 9 : nil)], bigEndian: big)
        }
    }

    @Test("every link type, IPv4 and IPv6, in every format, decodes to the same golden text with the key log", arguments: LinkFraming.allCases)
    func everyLinkTypeAndFormat(link: LinkFraming) throws {
        for ipv6 in [false, true] {
            let builder = ipv6 ? TCPConversationBuilder.ipv6() : TCPConversationBuilder()
            for format in Self.formats {
                let result = inspect(Self.capture(builder, link: link, format: format), keyLog: Self.conversation.keyLogLine)
                #expect(result.error == nil, "\(link) \(format)")
                try CaptureFixtures.check(result.lines, ipv6 ? "golden-keys-ipv6.txt" : "golden-keys-ipv4.txt")
                #expect(result.statistics.decryptedFrames == Self.conversation.frames.count - 2)
            }
        }
    }

    @Test("without a key log: headers, the HELLOs in full, sealed payloads said to be sealed")
    func withoutKeys() throws {
        let result = inspect(Self.capture(TCPConversationBuilder(), link: .ethernet, format: .pcap(bigEndian: false, nanoseconds: false)))
        try CaptureFixtures.check(result.lines, "golden-nokeys.txt")
        #expect(result.statistics.sealedUnopened == Self.conversation.frames.count - 2)
    }

    @Test("JSON: one object per line, with the key fields")
    func json() throws {
        let result = inspect(
            Self.capture(TCPConversationBuilder(), link: .sll2, format: .pcapng(bigEndian: false)), keyLog: Self.conversation.keyLogLine,
            json: true)
        try CaptureFixtures.check(result.lines, "golden-keys.jsonl")
        for line in result.lines {
            let value = try JSONValue(parsing: line)
            // The command's byte writer prints exactly what `description` prints.
            var bytes: [UInt8] = []
            value.appendCompactUTF8(to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == line)
        }
        for text in ["plain", "quote \" back \\ nl \n cr \r tab \t bell \u{07} é ✓", ""] {
            var bytes: [UInt8] = []
            JSONValue.string(text).appendCompactUTF8(to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == JSONValue.string(text).description)
        }
    }

    @Test("fed one byte at a time, or all at once, the output is the same")
    func dripFeed() {
        let bytes = Self.capture(TCPConversationBuilder(), link: .ethernetVLAN, format: .pcapng(bigEndian: true))
        let whole = inspect(bytes, keyLog: Self.conversation.keyLogLine)
        let drip = inspect(bytes, keyLog: Self.conversation.keyLogLine, chunk: 1)
        let odd = inspect(bytes, keyLog: Self.conversation.keyLogLine, chunk: 37)
        #expect(whole.lines == drip.lines)
        #expect(whole.lines == odd.lines)
        #expect(drip.error == nil)
    }

    @Test("IPv4 options and IPv6 extension headers are skipped over")
    func ipOptionsAndExtensionHeaders() {
        var v4 = TCPConversationBuilder()
        v4.ipOptions = true
        var v6 = TCPConversationBuilder.ipv6()
        v6.extensionHeaders = true
        let plain4 = inspect(Self.capture(TCPConversationBuilder(), link: .raw, format: .pcap(bigEndian: false, nanoseconds: false)), keyLog: Self.conversation.keyLogLine)
        let plain6 = inspect(Self.capture(.ipv6(), link: .raw, format: .pcap(bigEndian: false, nanoseconds: false)), keyLog: Self.conversation.keyLogLine)
        #expect(inspect(Self.capture(v4, link: .raw, format: .pcap(bigEndian: false, nanoseconds: false)), keyLog: Self.conversation.keyLogLine).lines == plain4.lines)
        #expect(inspect(Self.capture(v6, link: .raw, format: .pcap(bigEndian: false, nanoseconds: false)), keyLog: Self.conversation.keyLogLine).lines == plain6.lines)
    }

    @Test("IP fragments are reported and skipped")
    func fragments() {
        let client = TCPEndpoint(address: [10, 0, 0, 1], port: 1)
        let server = TCPEndpoint(address: [10, 0, 0, 2], port: 2)
        let v4 = PacketBuilder.tcp(from: client, to: server, sequence: 1, flags: 0x10, payload: [1, 2, 3], fragment: true)
        let v6 = PacketBuilder.tcp(
            from: TCPConversationBuilder.ipv6().client, to: TCPConversationBuilder.ipv6().server, sequence: 1, flags: 0x10, payload: [1], fragment: true)
        let bytes = CaptureWriter.pcap(
            [CaptureWriter.Packet(time: 0, data: v4), CaptureWriter.Packet(time: 1_000, data: v6)], linkType: 101, bigEndian: false, nanoseconds: false)
        let result = inspect(bytes)
        #expect(result.lines.count == 2)
        #expect(result.lines.allSatisfy { $0.contains("PACKET") && $0.contains("fragment") })
        #expect(result.statistics.unfollowedPackets == 2)
    }

    @Test("pcapng: two sections of opposite byte order, several interfaces with their own link types and time resolutions")
    func pcapngSectionsAndInterfaces() throws {
        let builder = TCPConversationBuilder()
        var other = TCPConversationBuilder()
        other.client.port = 41_000
        var first = builder.packets(builder.segments(Self.conversation), link: .ethernet)
        var second = other.packets(other.segments(Self.conversation), link: .sll)
        for index in second.indices { second[index].interface = 1 }
        // Interleave the two connections over the two interfaces.
        var mixed: [CaptureWriter.Packet] = []
        while !first.isEmpty || !second.isEmpty {
            if !first.isEmpty { mixed.append(first.removeFirst()) }
            if !second.isEmpty { mixed.append(second.removeFirst()) }
        }
        let half = mixed.count / 2
        let interfaces = [CaptureWriter.Interface(linkType: 1, resolution: 9), CaptureWriter.Interface(linkType: 113, resolution: 0x80 | 20)]
        let bytes = CaptureWriter.pcapngSection(Array(mixed[..<half]), interfaces: interfaces, bigEndian: false)
            + CaptureWriter.pcapngSection(Array(mixed[half...]), interfaces: interfaces, bigEndian: true)
        let result = inspect(bytes, keyLog: Self.conversation.keyLogLine)
        #expect(result.error == nil)
        #expect(result.statistics.connections.count == 2)
        #expect(result.statistics.connections.allSatisfy { $0.handshake == "established" && $0.decrypted })
        #expect(result.statistics.decryptedFrames == 2 * (Self.conversation.frames.count - 2))
        try CaptureFixtures.check(result.lines, "golden-pcapng-sections.txt")
    }

    @Test("pcapng simple packet blocks are read (no time stamps)")
    func simplePacketBlocks() {
        let builder = TCPConversationBuilder()
        let packets = builder.packets(builder.segments(Self.conversation), link: .ethernet)
        let bytes = CaptureWriter.pcapngSection(packets, interfaces: [CaptureWriter.Interface(linkType: 1)], bigEndian: false, useSimpleBlocks: true)
        let result = inspect(bytes, keyLog: Self.conversation.keyLogLine)
        #expect(result.error == nil)
        #expect(result.statistics.decryptedFrames == Self.conversation.frames.count - 2)
    }

    @Test("filters: --type, --height, --port, --peer")
    func filters() {
        let bytes = Self.capture(TCPConversationBuilder(), link: .ethernet, format: .pcap(bigEndian: false, nanoseconds: false))
        let votes = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.types = [.vote] }
        #expect(votes.lines.count == 4)
        #expect(votes.lines.allSatisfy { $0.contains(" VOTE ") })
        let height = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.height = 5 }
        // proposal, 4 votes, block, block request (5...6)
        #expect(height.lines.count == 7)
        let otherPort = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.ports = [1234] }
        #expect(otherPort.lines.isEmpty)
        let port = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.ports = [26_656] }
        #expect(port.lines.count == Self.conversation.frames.count + 1)  // and the handshake note
        let peer = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.peers = [(IPAddress("10.0.0.1")!, 40_000)] }
        #expect(peer.lines == port.lines)
        let wrongPeer = inspect(bytes, keyLog: Self.conversation.keyLogLine) { $0.filter.peers = [(IPAddress("10.0.0.1")!, 1)] }
        #expect(wrongPeer.lines.isEmpty)
    }

    @Test("IPv6 addresses print in RFC 5952 form and parse back")
    func ipv6Text() {
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("fe80:0:0:1:0:0:0:1")?.description == "fe80:0:0:1::1")
        #expect(IPAddress("1.2.3.4")?.description == "1.2.3.4")
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1::2::3") == nil)
    }
}
