import MedLedgerInspect
import MedLedgerWire
import Testing

/// Malformed captures: each error kind, with the byte offset it names. Never a crash.
@Suite("medledger-inspect pcap: malformed captures")
struct CaptureMalformedTests {
    static let conversation = SyntheticConversation.standard()
    static let builder = TCPConversationBuilder()
    static let packets = builder.packets(builder.segments(conversation), link: .ethernet)
    static let pcap = CaptureWriter.pcap(packets, linkType: 1, bigEndian: false, nanoseconds: false)
    static let pcapng = CaptureWriter.pcapngSection(packets, interfaces: [CaptureWriter.Interface(linkType: 1)], bigEndian: false)

    static func error(_ bytes: [UInt8]) -> CaptureError? { inspect(bytes).error }

    @Test("a file that is neither pcap nor pcapng: not_a_capture at 0")
    func notACapture() {
        let error = Self.error(Array("hello, this is text\n".utf8))
        #expect(error?.kind == .notACapture)
        #expect(error?.offset == 0)
        #expect(Self.error([0xA1, 0xB2, 0xC3, 0xD4, 0, 3] + [UInt8](repeating: 0, count: 18))?.kind == .notACapture)
    }

    @Test("an empty input, a cut file header, a cut record header, a cut packet: truncated, at the record that is cut")
    func truncated() {
        #expect(Self.error([])?.kind == .truncated)
        let header = Self.error(Array(Self.pcap.prefix(10)))
        #expect(header?.kind == .truncated)
        #expect(header?.offset == 0)
        // Cut the second record's packet in the middle: the error names where that record starts.
        let firstLength = 16 + Self.packets[0].data.count
        let cut = Self.error(Array(Self.pcap.prefix(24 + firstLength + 16 + 5)))
        #expect(cut?.kind == .truncated)
        #expect(cut?.offset == 24 + firstLength)
        let block = inspect(Array(Self.pcapng.dropLast(3)))
        #expect(block.error?.kind == .truncated)
        #expect(block.statistics.packets == Self.packets.count - 1)
    }

    @Test("a captured length above the snapshot length or the hard maximum: packet_too_large at the length field")
    func packetTooLarge() {
        var bytes = Self.pcap
        bytes[16...19] = [50, 0, 0, 0]  // snaplen 50: the first packet (a SYN, 54 bytes) is longer
        let error = Self.error(bytes)
        #expect(error?.kind == .packetTooLarge)
        #expect(error?.offset == 24 + 8)
        var huge = Self.pcap
        huge[16...19] = [0, 0, 0, 0]  // no snaplen: the hard maximum applies
        huge[24 + 8..<24 + 12] = [0, 0, 0, 0x10]  // 256 MiB
        #expect(Self.error(huge)?.kind == .packetTooLarge)
        #expect(Self.error(huge)?.offset == 32)
    }

    @Test("an unknown link type: unknown_link_type at the field that declares it (pcap header, pcapng interface block)")
    func unknownLinkType() {
        var bytes = Self.pcap
        bytes[20...23] = [147, 0, 0, 0]  // LINKTYPE_USER0
        let error = Self.error(bytes)
        #expect(error?.kind == .unknownLinkType)
        #expect(error?.offset == 20)
        var ng = Self.pcapng
        // The interface block follows the 28-byte section header; its link type is at +8.
        ng[28 + 8] = 147
        #expect(Self.error(ng)?.kind == .unknownLinkType)
        #expect(Self.error(ng)?.offset == 36)
    }

    @Test("bogus pcapng block lengths: bad_length at the length that is wrong")
    func badLength() {
        var odd = Self.pcapng
        odd[28 + 4] = 21  // interface block length not a multiple of 4
        #expect(Self.error(odd)?.kind == .badLength)
        #expect(Self.error(odd)?.offset == 32)
        var huge = Self.pcapng
        huge[28 + 4..<28 + 8] = [0, 0, 0, 0x40]  // 1 GiB
        #expect(Self.error(huge)?.kind == .badLength)
        var mismatch = Self.pcapng
        mismatch[28 + 20 - 4] = 24  // the interface block's closing length
        #expect(Self.error(mismatch)?.kind == .badLength)
        #expect(Self.error(mismatch)?.offset == 28 + 16)
        // An enhanced packet block whose captured length runs past the block.
        var past = Self.pcapng
        let epb = 28 + 20 + 20  // after SHB, IDB and the 20-byte unknown block
        past[epb + 20..<epb + 24] = [0xFF, 0xFF, 0, 0]
        #expect(Self.error(past)?.kind == .badLength)
        #expect(Self.error(past)?.offset == epb + 20)
    }

    @Test("a packet on an interface no block described: unknown_interface at the interface id")
    func unknownInterface() {
        var bytes = Self.pcapng
        let epb = 28 + 20 + 20
        bytes[epb + 8] = 3
        let error = Self.error(bytes)
        #expect(error?.kind == .unknownInterface)
        #expect(error?.offset == epb + 8)
    }

    @Test("a bad section header byte-order magic: not_a_capture at the magic")
    func badByteOrderMagic() {
        var bytes = Self.pcapng
        bytes[8] = 0
        #expect(Self.error(bytes)?.kind == .notACapture)
        #expect(Self.error(bytes)?.offset == 8)
    }

    @Test("packets before the error are decoded; the error comes last")
    func decodedBeforeTheError() {
        var bytes = Self.pcap
        bytes += [0xFF, 0xFF]  // a cut record header at the end
        let result = inspect(bytes, keyLog: Self.conversation.keyLogLine)
        #expect(result.error?.kind == .truncated)
        #expect(result.error?.offset == Self.pcap.count)
        #expect(result.statistics.decryptedFrames == Self.conversation.frames.count - 2)
    }

    @Test("every prefix and many corruptions of a capture read without a crash", arguments: [false, true])
    func neverCrash(pcapng: Bool) {
        let bytes = pcapng ? Self.pcapng : Self.pcap
        for length in stride(from: 0, to: bytes.count, by: 7) { _ = inspect(Array(bytes.prefix(length))) }
        var generator = SplitMix64(seed: 7)
        for _ in 0..<300 {
            var copy = bytes
            for _ in 0..<4 {
                copy[Int(generator.next() % UInt64(copy.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            _ = inspect(copy, keyLog: Self.conversation.keyLogLine)
        }
    }
}
