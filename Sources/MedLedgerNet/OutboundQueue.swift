import MedLedgerWire

/// One message waiting to be sealed and written: its payload is already encoded and, when it paid,
/// compressed, so a broadcast encodes once for every peer.
package struct OutboundItem: Sendable {
    package var type: MessageType
    package var trafficClass: TrafficClass
    /// The canonical message bytes, or `u32 inflated_length || zlib stream` when ``compressed``.
    package var body: [UInt8]
    package var compressed: Bool

    package init(type: MessageType, trafficClass: TrafficClass, body: [UInt8], compressed: Bool) {
        self.type = type
        self.trafficClass = trafficClass
        self.body = body
        self.compressed = compressed
    }

    /// Bytes this item takes on the wire once sealed: header, body, tag.
    package var wireSize: Int { WireLimits.headerSize + body.count + WireLimits.sealTagSize }
}

/// A connection's outbound queue: one FIFO lane per ``TrafficClass``, bounded in frames and bytes.
///
/// Pure and single-threaded; the connection's queue owns it.
package struct OutboundQueue: Sendable {
    package enum Admission: Equatable, Sendable {
        /// Queued.
        case queued
        /// Transaction gossip over its own budget: dropped, the connection stays.
        case droppedGossip
        /// Over the connection's limit: the peer cannot keep up.
        case full
    }

    package let maxBytes: Int
    package let maxFrames: Int
    package let maxGossipBytes: Int

    private var lanes: [[OutboundItem]] = Array(repeating: [], count: TrafficClass.allCases.count)
    private var heads: [Int] = Array(repeating: 0, count: TrafficClass.allCases.count)
    private var gossipBytes = 0
    /// Bytes queued (wire sizes).
    package private(set) var byteCount = 0
    /// Frames queued.
    package private(set) var frameCount = 0

    package init(maxBytes: Int, maxFrames: Int, maxGossipBytes: Int) {
        self.maxBytes = maxBytes
        self.maxFrames = maxFrames
        self.maxGossipBytes = min(maxGossipBytes, maxBytes)
    }

    package var isEmpty: Bool { frameCount == 0 }

    /// Queues `item` unless that would pass a limit. Only `DISCONNECT` is always queued: closing
    /// needs it. Keepalive counts like everything else, so a peer flooding `PING`s without reading
    /// the `PONG`s fills its own queue.
    package mutating func push(_ item: OutboundItem) -> Admission {
        let size = item.wireSize
        if item.type != .disconnect {
            if item.trafficClass == .transactionGossip, gossipBytes + size > maxGossipBytes { return .droppedGossip }
            guard byteCount + size <= maxBytes, frameCount < maxFrames else { return .full }
        }
        let lane = item.trafficClass.rawValue
        lanes[lane].append(item)
        byteCount += size
        frameCount += 1
        if item.trafficClass == .transactionGossip { gossipBytes += size }
        return .queued
    }

    /// The oldest item of the highest class that has one.
    package mutating func pop() -> OutboundItem? {
        for lane in lanes.indices where heads[lane] < lanes[lane].count {
            let item = lanes[lane][heads[lane]]
            heads[lane] += 1
            if heads[lane] == lanes[lane].count {
                lanes[lane].removeAll(keepingCapacity: lanes[lane].count <= 1024)
                heads[lane] = 0
            } else if heads[lane] >= 1024, heads[lane] * 2 >= lanes[lane].count {
                lanes[lane].removeFirst(heads[lane])
                heads[lane] = 0
            }
            let size = item.wireSize
            byteCount -= size
            frameCount -= 1
            if item.trafficClass == .transactionGossip { gossipBytes -= size }
            return item
        }
        return nil
    }

    /// Drops everything queued.
    package mutating func removeAll() {
        lanes = Array(repeating: [], count: TrafficClass.allCases.count)
        heads = Array(repeating: 0, count: TrafficClass.allCases.count)
        byteCount = 0
        frameCount = 0
        gossipBytes = 0
    }
}
