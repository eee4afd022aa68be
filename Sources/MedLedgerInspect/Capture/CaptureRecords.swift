import MedLedgerWire

/// Which messages and connections `medledger-inspect pcap` shows and counts.
public struct CaptureFilter: Sendable {
    /// Connections with one of these ports at either end (empty: any).
    public var ports: Set<UInt16> = []
    /// Messages of these types (empty: any).
    public var types: Set<MessageType> = []
    /// Connections with one of these endpoints at either end; a nil port matches any port.
    public var peers: [(address: IPAddress, port: UInt16?)] = []
    /// Messages about this height (votes, proposals, status, blocks, block requests and
    /// responses, evidence).
    public var height: UInt64?

    public init() {}

    /// Whether a connection between `a` and `b` is shown.
    public func admits(_ a: CaptureEndpoint, _ b: CaptureEndpoint) -> Bool {
        if !ports.isEmpty, !ports.contains(a.port), !ports.contains(b.port) { return false }
        if !peers.isEmpty {
            let matches = peers.contains { peer in
                [a, b].contains { $0.address == peer.address && (peer.port == nil || peer.port == $0.port) }
            }
            if !matches { return false }
        }
        return true
    }

    /// Whether notes (gaps, resynchronisation, handshakes) are shown: not when looking for
    /// particular messages.
    public var showsNotes: Bool { types.isEmpty && height == nil }
}

/// One MedLedger frame found in the capture.
public struct CaptureMessage: Sendable {
    /// What could be made of the payload.
    public enum Content: Sendable {
        /// Opened (if sealed) and decoded: the message and its canonical bytes (``fields`` gives
        /// its key fields).
        case decoded(Message, messageBytes: [UInt8])
        /// Sealed, and no key for it (no key log, the connection is not in it, or its handshake
        /// is not in the capture).
        case sealed(reason: String)
        /// The capture does not hold all of the payload.
        case incomplete(missing: Int)
        /// The payload failed to open or decode.
        case failed(WireError)
    }

    /// Nanoseconds since the epoch, of the packet that completed the frame.
    public var timestamp: Int64
    /// The number of the packet that completed the frame (1 for the file's first).
    public var packet: Int
    /// The connection, numbered from 1 in the order the capture shows them.
    public var connection: Int
    public var source: CaptureEndpoint
    public var destination: CaptureEndpoint
    /// i2r or r2i, once the initiator is known.
    public var direction: Direction?
    /// The frame's sealing sequence in its direction, for a sealed frame whose count is known.
    public var sequence: UInt64?
    public var header: FrameHeader
    /// Offset of the frame's first byte in its direction of the TCP stream.
    public var streamOffset: Int
    public var content: Content
    /// Heights the message is about (for the filter).
    var heights: [ClosedRange<UInt64>] = []

    /// The decoded message's key fields (heights, rounds, hashes, ids, kinds), computed when asked
    /// for; nil when the payload was not decoded.
    public var fields: [(String, JSONValue)]? {
        guard case .decoded(let message, let bytes) = content else { return nil }
        return MessageSummary.fields(message, messageBytes: bytes)
    }

    /// Header plus payload, as on the wire.
    public var wireBytes: Int { WireLimits.headerSize + Int(header.length) }
}

/// Something about the capture that is not a frame: a gap, a resynchronisation, a malformed
/// frame, a fragment skipped, a handshake's outcome.
public struct CaptureNote: Sendable {
    public enum Kind: String, Sendable {
        /// Stream bytes the capture does not hold (lost, or cut by the snapshot length).
        case gap
        /// Framing found again after bytes were skipped.
        case resync
        /// A frame header that breaks a rule of WIRE.md section 2.
        case malformedFrame = "malformed_frame"
        /// A sealed payload that did not open with the key log's key.
        case decryptionFailed = "decryption_failed"
        /// A packet that could not be followed (an IP fragment, headers cut short).
        case packet
        /// A handshake completed or was refused.
        case handshake
        /// A limit was reached (connections, buffered bytes).
        case limit
    }

    public var timestamp: Int64
    public var packet: Int
    public var kind: Kind
    public var connection: Int?
    public var source: CaptureEndpoint?
    public var destination: CaptureEndpoint?
    /// Bytes concerned (gap length, bytes skipped), when it applies.
    public var bytes: Int?
    /// Offset in the direction's stream, when it applies.
    public var streamOffset: Int?
    /// The WIRE.md error name, for malformed frames and failed decryption.
    public var error: String?
    public var detail: String
}

/// What the inspector reports, in capture order.
public enum CaptureRecord: Sendable {
    case message(CaptureMessage)
    case note(CaptureNote)
}
