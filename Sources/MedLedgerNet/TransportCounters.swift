import MedLedgerCrypto
import MedLedgerWire

/// A snapshot of everything the transport counted since it was created: what the node's metrics
/// publish and what an operator reconciles with a capture.
///
/// Bytes are bytes on the wire: the 16-byte header plus the payload as sent (compressed and
/// sealed). A frame is counted out when it is sealed into the connection's write buffer, and in
/// when its last byte has arrived, before it is opened.
public struct TransportCounters: Hashable, Sendable {
    /// Frames and bytes, both ways.
    public struct Traffic: Hashable, Sendable {
        public var framesIn: UInt64 = 0
        public var bytesIn: UInt64 = 0
        public var framesOut: UInt64 = 0
        public var bytesOut: UInt64 = 0

        public init() {}

        public static func + (a: Traffic, b: Traffic) -> Traffic {
            var sum = a
            sum.framesIn += b.framesIn
            sum.bytesIn += b.bytesIn
            sum.framesOut += b.framesOut
            sum.bytesOut += b.bytesOut
            return sum
        }
    }

    /// Traffic by message type, handshake frames included; types never seen are absent.
    public var byMessageType: [MessageType: Traffic] = [:]
    /// Traffic of peer-port connections by the node key they proved (from the handshake on).
    public var byPeer: [Ed25519.PublicKey: Traffic] = [:]
    /// Traffic of all client-port connections together (client keys are unbounded in number).
    public var clientTraffic = Traffic()

    /// Handshakes this side refused, by reason (`wrong_chain`, `not_admitted`, ...).
    public var refusals: [String: UInt64] = [:]
    /// Established connections this side closed, by reason (`normal`, `bad_magic`, `queue_full`, ...).
    public var drops: [String: UInt64] = [:]
    /// Connections the other side ended, at any stage, by the `DISCONNECT` reason it gave, or
    /// `eof` / `connection_reset` when it gave none.
    public var remoteCloses: [String: UInt64] = [:]
    /// Dials that never reached a handshake, by reason (`connection_refused`, `timed_out`, ...).
    public var dialFailures: [String: UInt64] = [:]

    /// Transaction gossip frames dropped because a peer's gossip budget was full.
    public var droppedGossipFrames: UInt64 = 0
    /// Frames sent with the `compressed` flag.
    public var compressedFramesOut: UInt64 = 0
    /// Connections accepted by the listeners.
    public var accepted: UInt64 = 0
    /// Dials started.
    public var dialAttempts: UInt64 = 0
    /// Handshakes completed and admitted.
    public var established: UInt64 = 0
    /// Connections open now (connecting, handshaking or established).
    public var openConnections = 0
    /// Connections established now.
    public var establishedConnections = 0

    public init() {}

    /// All traffic, every type together.
    public var total: Traffic { byMessageType.values.reduce(Traffic(), +) }
}

/// Per-connection frame and byte tallies by message type, in flat arrays for the hot path.
struct TrafficTally: Sendable {
    static let typeCount = MessageType.allCases.count
    static let slot: [Int] = {
        var table = Array(repeating: -1, count: 256)
        for (index, type) in MessageType.allCases.enumerated() { table[Int(type.rawValue)] = index }
        return table
    }()

    var framesIn = Array(repeating: UInt64(0), count: typeCount)
    var bytesIn = Array(repeating: UInt64(0), count: typeCount)
    var framesOut = Array(repeating: UInt64(0), count: typeCount)
    var bytesOut = Array(repeating: UInt64(0), count: typeCount)
    var compressedOut: UInt64 = 0
    var droppedGossip: UInt64 = 0

    mutating func countIn(_ type: MessageType, bytes: Int) {
        let slot = Self.slot[Int(type.rawValue)]
        framesIn[slot] += 1
        bytesIn[slot] += UInt64(bytes)
    }

    mutating func countOut(_ type: MessageType, bytes: Int, compressed: Bool) {
        let slot = Self.slot[Int(type.rawValue)]
        framesOut[slot] += 1
        bytesOut[slot] += UInt64(bytes)
        if compressed { compressedOut += 1 }
    }

    var total: TransportCounters.Traffic {
        var traffic = TransportCounters.Traffic()
        traffic.framesIn = framesIn.reduce(0, +)
        traffic.bytesIn = bytesIn.reduce(0, +)
        traffic.framesOut = framesOut.reduce(0, +)
        traffic.bytesOut = bytesOut.reduce(0, +)
        return traffic
    }

    /// Adds this tally into `counters.byMessageType` and the totals.
    func add(to counters: inout TransportCounters) {
        for (index, type) in MessageType.allCases.enumerated()
        where framesIn[index] + framesOut[index] > 0 {
            var traffic = counters.byMessageType[type] ?? TransportCounters.Traffic()
            traffic.framesIn += framesIn[index]
            traffic.bytesIn += bytesIn[index]
            traffic.framesOut += framesOut[index]
            traffic.bytesOut += bytesOut[index]
            counters.byMessageType[type] = traffic
        }
        counters.compressedFramesOut += compressedOut
        counters.droppedGossipFrames += droppedGossip
    }

    mutating func merge(_ other: TrafficTally) {
        for index in 0..<Self.typeCount {
            framesIn[index] += other.framesIn[index]
            bytesIn[index] += other.bytesIn[index]
            framesOut[index] += other.framesOut[index]
            bytesOut[index] += other.bytesOut[index]
        }
        compressedOut += other.compressedOut
        droppedGossip += other.droppedGossip
    }
}
