import MedLedgerInspect
import MedLedgerWire
import Testing

/// TCP reassembly and resynchronisation: what a real capture does to a stream.
@Suite("medledger-inspect pcap: TCP reassembly and resynchronisation")
struct CaptureReassemblyTests {
    static let conversation = SyntheticConversation.standard()
    static let keys = conversation.keyLogLine

    static func run(
        _ builder: TCPConversationBuilder = TCPConversationBuilder(), keys: String? = CaptureReassemblyTests.keys,
        _ change: (inout [TCPConversationBuilder.Segment]) -> Void
    ) -> (lines: [String], statistics: CaptureStatistics, error: CaptureError?) {
        var segments = builder.segments(conversation)
        change(&segments)
        let packets = builder.packets(segments, link: .ethernet)
        return inspect(CaptureWriter.pcap(packets, linkType: 1, bigEndian: false, nanoseconds: true), keyLog: keys)
    }

    static let clean = run { _ in }

    /// The lines without time stamps (reordering changes which packet completes a frame).
    static func untimed(_ lines: [String]) -> [String] { lines.map { String($0.drop { $0 != " " }) } }

    @Test("the clean conversation decodes completely")
    func clean() {
        #expect(Self.clean.error == nil)
        #expect(Self.clean.statistics.decryptedFrames == Self.conversation.frames.count - 2)
        #expect(Self.clean.statistics.gaps == 0)
    }

    @Test("out-of-order segments are put back in order")
    func outOfOrder() {
        let result = Self.run { segments in
            // Swap pairs of data segments all along.
            var index = 3
            while index + 1 < segments.count {
                segments.swapAt(index, index + 1)
                index += 3
            }
        }
        // The two directions interleave differently; each direction's frames are the same.
        #expect(Self.untimed(result.lines).sorted() == Self.untimed(Self.clean.lines).sorted())
        #expect(result.statistics.outOfOrderSegments > 0)
        #expect(result.statistics.gaps == 0)
    }

    @Test("retransmitted segments are taken once")
    func retransmissions() {
        let result = Self.run { segments in
            var out: [TCPConversationBuilder.Segment] = []
            for (index, segment) in segments.enumerated() {
                out.append(segment)
                if index % 4 == 3 { out.append(segment) }
                if index % 7 == 6, index >= 2 { out.append(segments[index - 2]) }  // a late, older one
            }
            segments = out
        }
        #expect(Self.untimed(result.lines) == Self.untimed(Self.clean.lines))
        #expect(result.statistics.retransmittedSegments > 0)
    }

    @Test("overlapping segments deliver each byte once")
    func overlaps() {
        let result = Self.run { segments in
            // Each data segment is sent again merged with the start of the next one.
            var out: [TCPConversationBuilder.Segment] = []
            for (index, segment) in segments.enumerated() {
                out.append(segment)
                if index + 1 < segments.count, segments[index + 1].fromClient == segment.fromClient, !segment.payload.isEmpty {
                    var merged = segment
                    merged.payload += segments[index + 1].payload.prefix(50)
                    out.append(merged)
                }
            }
            segments = out
        }
        #expect(Self.untimed(result.lines) == Self.untimed(Self.clean.lines))
    }

    @Test("sequence numbers that wrap around 2^32 change nothing")
    func sequenceWrap() {
        var builder = TCPConversationBuilder()
        builder.clientISN = UInt32.max - 700
        builder.serverISN = UInt32.max - 30
        let result = Self.run(builder) { _ in }
        #expect(result.lines == Self.clean.lines)
    }

    @Test("a capture that starts mid-stream finds the frames by their magic; without the handshake, sealed frames stay sealed")
    func midStream() throws {
        // Lose the start, then join each direction in the middle of a frame.
        let result = Self.run { segments in
            segments.removeFirst(9)
            for fromClient in [true, false] {
                let index = segments.firstIndex { $0.fromClient == fromClient }!
                segments[index].payload.removeFirst(5)
                segments[index].sequence &+= 5
            }
        }
        #expect(result.error == nil)
        #expect(result.statistics.resyncs >= 1)
        #expect(result.statistics.connections.first?.handshake == "not_captured")
        try CaptureFixtures.check(result.lines, "golden-midstream.txt")
    }

    @Test("a lost segment is a gap: the damaged frame is reported, the stream resynchronises, later frames open")
    func lostSegment() throws {
        // Lose a segment inside the block (a payload: framing is kept by the length), one that
        // starts the transaction (framing is lost, the magic finds it again) and a whole vote.
        let result = Self.run { segments in
            segments.remove(at: 18)
            segments.remove(at: 14)
            segments.remove(at: 9)
        }
        #expect(result.error == nil)
        #expect(result.statistics.gaps == 3)
        #expect(result.statistics.resyncs == 1)
        #expect(result.statistics.incompleteFrames >= 1)
        #expect(result.statistics.decryptedFrames > 0)
        try CaptureFixtures.check(result.lines, "golden-lost-segments.txt")
    }

    @Test("segments cut by the snapshot length become gaps, and nothing crashes")
    func snapLength() {
        let builder = TCPConversationBuilder()
        let packets = builder.packets(builder.segments(Self.conversation), link: .ethernet)
        let bytes = CaptureWriter.pcap(packets, linkType: 1, bigEndian: false, nanoseconds: false, snapLength: 180)
        let result = inspect(bytes, keyLog: Self.keys)
        #expect(result.error == nil)
        #expect(result.statistics.gaps > 0)
        #expect(result.statistics.incompleteFrames > 0)
    }

    @Test("out-of-order buffering is bounded: past the limit, what is missing becomes a gap")
    func boundedBuffering() {
        // Hold back one early segment per direction for ever (it never arrives).
        let result = inspect(
            {
                let builder = TCPConversationBuilder()
                var segments = builder.segments(Self.conversation)
                segments.remove(at: 8)
                return CaptureWriter.pcap(builder.packets(segments, link: .ethernet), linkType: 1, bigEndian: false, nanoseconds: false)
            }(), keyLog: Self.keys
        ) { $0.reassembly = ReassemblyLimits(perDirection: 1_000, total: 4_000) }
        #expect(result.error == nil)
        #expect(result.statistics.gaps == 1)
        #expect(result.statistics.decryptedFrames > 0)
    }

    @Test("a frame longer than the WIRE limit inside a stream is reported at its stream offset and the stream resyncs")
    func frameTooLarge() throws {
        var conversation = Self.conversation
        // A header claiming 9 MiB, valid CRC, right after the handshake.
        var header = FrameHeader(type: .vote, flags: [.sealed], length: 1).bytes
        header[8...11] = [0x00, 0x90, 0x00, 0x00]
        let crc = crc32(Array(header[0..<12]))
        header[12...15] = [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        conversation.frames.insert((.initiator, header), at: 4)
        let builder = TCPConversationBuilder()
        let bytes = CaptureWriter.pcap(builder.packets(builder.segments(conversation), link: .ethernet), linkType: 1, bigEndian: false, nanoseconds: false)
        let result = inspect(bytes, keyLog: Self.keys)
        #expect(result.error == nil)
        #expect(result.statistics.malformedFrames["frame_too_large"] == 1)
        let note = result.lines.first { $0.contains("MALFORMED_FRAME") }
        // The bogus header starts after the HELLO (99 bytes) and AUTH (128) of the initiator.
        #expect(note?.contains("at stream offset 227") == true, "\(note ?? "no note")")
        #expect(note?.contains("frame_too_large at frame offset 8") == true)
        // The sealing sequence is lost with the framing, and found again by trying the next ones.
        #expect(result.statistics.decryptedFrames == Self.conversation.frames.count - 2)
    }

    @Test("with wrong keys and the frame count lost, the sequence search gives up after a few frames")
    func sequenceSearchGivesUp() {
        var conversation = SyntheticConversation(seed: 9)
        for index in 0..<40 { conversation.send(.ping(Ping(nonce: UInt64(index))), from: .initiator) }
        // The key log line with its two keys swapped: the nonce matches, no frame opens.
        let fields = conversation.keyLogLine.split(separator: " ")
        let wrong = [fields[0], fields[1], fields[3], fields[2]].joined(separator: " ")
        let builder = TCPConversationBuilder()
        var segments = builder.segments(conversation)
        // Lose the segment with the fifth ping's header: the count is lost with the framing.
        segments.remove(at: 12)
        let bytes = CaptureWriter.pcap(builder.packets(segments, link: .ethernet), linkType: 1, bigEndian: false, nanoseconds: false)
        let result = inspect(bytes, keyLog: wrong)
        #expect(result.error == nil)
        #expect(result.statistics.decryptedFrames == 0)
        #expect(result.statistics.decryptionFailures == 2 + 5 + CaptureInspector.maxSequenceSearches)
        #expect(result.statistics.sealedUnopened > 20)
        #expect(result.lines.contains { $0.contains("the frame count was lost in a gap and not found again") })
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
