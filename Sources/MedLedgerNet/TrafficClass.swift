import MedLedgerWire

/// The priority of an outbound message: a connection always writes the highest class it has
/// queued first (Protocol/TRANSPORT.md, "Outbound queues").
public enum TrafficClass: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Keepalive and connection control (`PING`, `PONG`, `DISCONNECT`).
    case control = 0
    /// Proposals, votes and evidence: late consensus messages cost rounds.
    case consensus = 1
    /// Committed blocks, block requests and responses, status.
    case blockSync = 2
    /// Answers and events on the client port, and record ciphertext between peers (bulk that
    /// must not delay consensus or block sync).
    case client = 3
    /// Transaction gossip: best effort, dropped first when a peer falls behind.
    case transactionGossip = 4

    /// The class a message type travels in.
    public init(_ type: MessageType) {
        switch type {
        case .hello, .auth, .disconnect, .ping, .pong: self = .control
        case .proposal, .vote, .evidence: self = .consensus
        case .block, .blockRequest, .blockResponse, .status: self = .blockSync
        case .clientRequest, .clientResponse, .clientError, .clientEvent, .recordBlob, .recordBlobRequest: self = .client
        case .transaction: self = .transactionGossip
        }
    }

    public static func < (a: TrafficClass, b: TrafficClass) -> Bool { a.rawValue < b.rawValue }

    /// The stable name used in logs and counters.
    public var name: String {
        switch self {
        case .control: "control"
        case .consensus: "consensus"
        case .blockSync: "block_sync"
        case .client: "client"
        case .transactionGossip: "transaction_gossip"
        }
    }

    public var description: String { name }
}
