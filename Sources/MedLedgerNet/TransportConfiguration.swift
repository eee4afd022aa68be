import MedLedgerCrypto
import MedLedgerWire

/// Everything a ``Transport`` needs to know, with production defaults (Protocol/TRANSPORT.md lists
/// them and why).
public struct TransportConfiguration: Sendable {
    /// The chain this node is on; a handshake for another chain is refused (`wrong_chain`).
    public var chainID: String
    /// This node's long-term key, proven in every handshake.
    public var nodeKey: Ed25519.PrivateKey
    /// Node keys admitted on the peer port (the genesis validators plus configured observers).
    /// Any key is admitted on the client port.
    public var admittedPeerKeys: Set<Ed25519.PublicKey>
    /// Protocol versions this node speaks.
    public var protocolVersions: ClosedRange<UInt8> = FrameHeader.supportedVersions

    /// A handshake not complete within this time is refused (`handshake_timeout`).
    public var handshakeTimeout: Duration = .seconds(10)
    /// A dial whose TCP connection is not up within this time fails (`timed_out`).
    public var connectTimeout: Duration = .seconds(5)
    /// How often an established connection sends `PING`.
    public var pingInterval: Duration = .seconds(10)
    /// A `PING` unanswered this long closes the connection (`ping_timeout`).
    public var pingTimeout: Duration = .seconds(20)
    /// A frame whose first byte has arrived must be complete within this time (`frame_timeout`):
    /// the defence against a peer that trickles bytes (slowloris).
    public var frameTimeout: Duration = .seconds(30)
    /// Bytes waiting to be written with no progress for this long close the connection
    /// (`write_stall`): the peer does not read.
    public var writeStallTimeout: Duration = .seconds(30)
    /// A new peer-port connection from a key that already has one replaces it when nothing has been read
    /// on the old one for this long (the peer's machine went away without closing it, and came
    /// back); otherwise the new one is refused as `duplicate_connection`.
    public var replaceSilentAfter: Duration = .seconds(3)
    /// How often each connection checks its deadlines; deadlines are kept to this precision.
    public var tickInterval: Duration = .milliseconds(250)

    /// Most bytes (headers included) queued for one connection before it is closed (`queue_full`).
    /// A message larger than this can never be sent (``Transport/send(_:to:as:)`` throws).
    public var maxQueuedBytes: Int = 64 * 1024 * 1024
    /// Most frames queued for one connection before it is closed (`queue_full`).
    public var maxQueuedFrames: Int = 8192
    /// Most bytes of transaction gossip queued for one connection (at most ``maxQueuedBytes``);
    /// more gossip is dropped (and counted) rather than closing the connection.
    public var maxQueuedGossipBytes: Int = 4 * 1024 * 1024

    /// When to compress a payload before sealing (the frame's `compressed` flag).
    public var compression: Frame.Compression = .default
    /// Redial schedule of the peers given to ``Transport/addPeer(_:)``.
    public var redialBackoff: Backoff = .default

    /// Most inbound connections at once (handshaking or established), over all listeners.
    public var maxInboundConnections: Int = 512
    /// Most inbound connections still in their handshake at once.
    public var maxPendingHandshakes: Int = 64
    /// `listen(2)` backlog.
    public var listenBacklog: Int32 = 128

    /// The operator's key log (Protocol/WIRE.md 4.4): one line per established connection. Off
    /// when nil; anyone holding the file reads every listed connection.
    public var keyLog: KeyLogWriter?

    public init(chainID: String, nodeKey: Ed25519.PrivateKey, admittedPeerKeys: Set<Ed25519.PublicKey>) {
        self.chainID = chainID
        self.nodeKey = nodeKey
        self.admittedPeerKeys = admittedPeerKeys
    }

    func validate() throws(NetError) {
        func check(_ condition: Bool, _ detail: String) throws(NetError) {
            if !condition { throw NetError(.invalidConfiguration, detail) }
        }
        try check(!chainID.isEmpty, "chainID must not be empty")
        try check(protocolVersions.lowerBound >= 1, "protocol versions start at 1")
        try check(tickInterval > .zero, "tickInterval must be positive")
        try check(maxQueuedBytes >= 64 * 1024, "maxQueuedBytes must be at least 64 KiB")
        try check(maxQueuedFrames >= 16, "maxQueuedFrames must be at least 16")
        try check(maxQueuedGossipBytes >= 0, "maxQueuedGossipBytes must not be negative")
        try check(maxInboundConnections >= 1 && maxPendingHandshakes >= 1, "connection limits must be at least 1")
        try check(redialBackoff.initial > .zero && redialBackoff.maximum >= redialBackoff.initial, "redialBackoff needs 0 < initial <= maximum")
    }
}
