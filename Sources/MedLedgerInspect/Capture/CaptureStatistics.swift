import MedLedgerWire

/// The `--stats` summary: messages and bytes by type and by connection, handshake outcomes,
/// malformed frames, gaps.
public struct CaptureStatistics: Sendable {
    /// Messages and wire bytes (header plus payload).
    public struct Tally: Sendable, Hashable {
        public var messages = 0
        public var bytes = 0
    }

    /// One connection's line.
    public struct Connection: Sendable {
        public var id: Int
        public var initiator: CaptureEndpoint
        public var responder: CaptureEndpoint
        /// False when the capture does not say who initiated (then `initiator` is the first
        /// sender seen).
        public var initiatorKnown: Bool
        public var channel: String?
        /// `established`, `refused`, `incomplete` or `not_captured`.
        public var handshake: String
        /// The key log had this connection's keys.
        public var decrypted: Bool
        public var messages: Int
        public var bytes: Int
        public var malformedFrames: Int
        /// The filter shows it.
        public var shown: Bool
    }

    public var captureBytes = 0
    public var packets = 0
    public var tcpSegments = 0
    /// Packets that are not IP or not TCP.
    public var ignoredPackets = 0
    /// Packets that could not be followed (fragments, headers cut short).
    public var unfollowedPackets = 0
    public var retransmittedSegments = 0
    public var outOfOrderSegments = 0
    /// Messages by type code (a flat table: this is counted for every frame).
    private var tallies = [Tally](repeating: Tally(), count: 256)
    public var byType: [MessageType: Tally] {
        var result: [MessageType: Tally] = [:]
        for type in MessageType.allCases where tallies[Int(type.rawValue)].messages > 0 { result[type] = tallies[Int(type.rawValue)] }
        return result
    }
    public var connections: [Connection] = []
    /// Malformed frames and payloads by WIRE.md error name.
    public var malformedFrames: [String: Int] = [:]
    public var gaps = 0
    public var gapBytes = 0
    public var resyncs = 0
    public var skippedBytes = 0
    public var incompleteFrames = 0
    public var decryptedFrames = 0
    public var sealedUnopened = 0
    public var decryptionFailures = 0

    public init() {}

    /// These decoding counts with the reading side's: bytes, packets, segments, gaps.
    func merging(reading: CaptureStatistics) -> CaptureStatistics {
        var merged = self
        merged.captureBytes = reading.captureBytes
        merged.packets = reading.packets
        merged.tcpSegments = reading.tcpSegments
        merged.ignoredPackets = reading.ignoredPackets
        merged.unfollowedPackets = reading.unfollowedPackets
        merged.retransmittedSegments = reading.retransmittedSegments
        merged.outOfOrderSegments = reading.outOfOrderSegments
        merged.gaps = reading.gaps
        merged.gapBytes = reading.gapBytes
        return merged
    }

    mutating func count(_ message: CaptureMessage) {
        let code = Int(message.header.type.rawValue)
        tallies[code].messages += 1
        tallies[code].bytes += message.wireBytes
    }

    /// Every message counted.
    public var total: Tally {
        tallies.reduce(into: Tally()) {
            $0.messages += $1.messages
            $0.bytes += $1.bytes
        }
    }

    /// Handshake outcomes of the connections shown.
    public var handshakes: [String: Int] {
        connections.filter(\.shown).reduce(into: [:]) { $0[$1.handshake, default: 0] += 1 }
    }

    public var json: JSONValue {
        let types = MessageType.allCases.compactMap { type -> (String, JSONValue)? in
            guard let tally = byType[type] else { return nil }
            return (type.name, .object([("messages", .int(tally.messages)), ("bytes", .int(tally.bytes))]))
        }
        let connectionObjects = connections.filter(\.shown).map { c -> JSONValue in
            .object([
                ("connection", .int(c.id)), ("initiator", .string(c.initiator.description)), ("responder", .string(c.responder.description)),
                ("initiator_known", .bool(c.initiatorKnown)), ("channel", c.channel.map { .string($0) } ?? .null),
                ("handshake", .string(c.handshake)), ("decrypted", .bool(c.decrypted)), ("messages", .int(c.messages)),
                ("bytes", .int(c.bytes)), ("malformed_frames", .int(c.malformedFrames)),
            ])
        }
        let total = total
        return .object([
            ("capture_bytes", .int(captureBytes)), ("packets", .int(packets)), ("tcp_segments", .int(tcpSegments)),
            ("ignored_packets", .int(ignoredPackets)), ("unfollowed_packets", .int(unfollowedPackets)),
            ("retransmitted_segments", .int(retransmittedSegments)), ("out_of_order_segments", .int(outOfOrderSegments)),
            ("messages", .int(total.messages)), ("message_bytes", .int(total.bytes)),
            ("by_type", .object(types)), ("connections", .array(connectionObjects)),
            ("handshakes", .object(handshakes.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("malformed_frames", .object(malformedFrames.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("gaps", .int(gaps)), ("gap_bytes", .int(gapBytes)), ("resyncs", .int(resyncs)), ("skipped_bytes", .int(skippedBytes)),
            ("incomplete_frames", .int(incompleteFrames)), ("decrypted_frames", .int(decryptedFrames)),
            ("sealed_unopened", .int(sealedUnopened)), ("decryption_failures", .int(decryptionFailures)),
        ])
    }

    public var text: String {
        var lines: [String] = []
        let total = total
        lines.append(
            "capture: \(captureBytes) bytes, \(packets) packets, \(tcpSegments) TCP segments (\(retransmittedSegments) retransmitted, "
                + "\(outOfOrderSegments) out of order), \(ignoredPackets) not TCP, \(unfollowedPackets) not followed")
        lines.append("messages: \(total.messages), \(total.bytes) bytes on the wire")
        lines.append("")
        lines.append(pad("type", 22) + padLeft("messages", 10) + padLeft("bytes", 14))
        for type in MessageType.allCases {
            guard let tally = byType[type] else { continue }
            lines.append(pad(type.name, 22) + padLeft("\(tally.messages)", 10) + padLeft("\(tally.bytes)", 14))
        }
        lines.append("")
        lines.append(pad("connection", 12) + pad("initiator → responder", 50) + pad("channel", 9) + pad("handshake", 14) + padLeft("messages", 10) + padLeft("bytes", 14))
        for c in connections where c.shown {
            let arrow = c.initiatorKnown ? " → " : " ↔ "
            lines.append(
                pad("#\(c.id)", 12) + pad(c.initiator.description + arrow + c.responder.description, 50) + pad(c.channel ?? "-", 9)
                    + pad(c.handshake + (c.decrypted ? "+keys" : ""), 14) + padLeft("\(c.messages)", 10) + padLeft("\(c.bytes)", 14))
        }
        lines.append("")
        let outcomes = handshakes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        lines.append("handshakes: " + (outcomes.isEmpty ? "none" : outcomes))
        let malformed = malformedFrames.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        lines.append("malformed frames: " + (malformed.isEmpty ? "none" : malformed))
        lines.append("gaps: \(gaps) (\(gapBytes) bytes missing), resynchronised \(resyncs) times (\(skippedBytes) bytes skipped), \(incompleteFrames) incomplete frames")
        lines.append("sealed frames: \(decryptedFrames) opened, \(sealedUnopened) without a key, \(decryptionFailures) failed to open")
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}
