import MedLedgerCrypto
import MedLedgerWire

/// Identifies one connection for the life of a ``Transport``; never reused.
public struct ConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "#\(rawValue)" }
}

/// Who opened the TCP connection.
public enum ConnectionDirection: String, Hashable, Sendable {
    /// The other side dialled one of this transport's listeners (this side is the responder).
    case inbound
    /// This transport dialled (this side is the initiator).
    case outbound
}

/// An established connection: the key the peer proved in the handshake and where it is.
public struct PeerInfo: Hashable, Sendable, CustomStringConvertible {
    public var connectionID: ConnectionID
    /// The node key (peer port) or client key (client port) the peer proved.
    public var key: Ed25519.PublicKey
    public var channel: Channel
    public var direction: ConnectionDirection
    public var remoteAddress: SocketAddress
    /// The protocol version the handshake chose.
    public var protocolVersion: UInt8

    public var description: String {
        "\(connectionID) \(channel.name) \(direction.rawValue) \(remoteAddress) key \(PeerInfo.shortKey(key))"
    }

    /// The first 8 bytes of a key in hex: enough to tell keys apart in a log line.
    public static func shortKey(_ key: Ed25519.PublicKey) -> String {
        key.bytes.prefix(8).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
    }
}

/// A node this transport keeps a connection to: where to dial it and the key it must prove.
public struct PeerEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// A host name, or a numeric IPv4 or IPv6 address (brackets allowed: `[::1]`).
    public var host: String
    public var port: UInt16
    /// The node key the peer must prove; a different key is refused (`not_admitted`).
    public var key: Ed25519.PublicKey
    /// The port kind dialled: `.peer` between nodes, `.client` for an app talking to a node.
    public var channel: Channel

    public init(host: String, port: UInt16, key: Ed25519.PublicKey, channel: Channel = .peer) {
        self.host = host
        self.port = port
        self.key = key
        self.channel = channel
    }

    public var description: String { "\(host):\(port) (\(channel.name), key \(PeerInfo.shortKey(key)))" }
}

/// What a ``Transport`` reports.
///
/// Events of one connection arrive in order (`connected`, its messages, `disconnected`), on that
/// connection's queue; events of different connections may interleave. When the same key
/// reconnects, the new connection's `connected` may come before the old one's `disconnected`:
/// track peers by ``PeerInfo/connectionID``.
public enum TransportEvent: Sendable {
    /// A handshake completed and the peer was admitted.
    case connected(PeerInfo)
    /// A message arrived, opened, inflated and decoded. Keepalive and `DISCONNECT` are handled by
    /// the transport and not reported here.
    case message(Message, from: PeerInfo)
    /// An established connection ended.
    case disconnected(PeerInfo, CloseReason)
}
