import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerWire
import Synchronization

/// MedLedger's transport: listeners and dials over Dispatch sockets, the secure channel of
/// Protocol/WIRE.md section 4 on every connection, admission, prioritised bounded queues,
/// keepalive, redial with backoff, and counters (Protocol/TRANSPORT.md).
///
/// One transport serves a node's peer port and client port; an app uses one to reach a node's
/// client port. Everything it reports arrives through the event handler given at creation, on the
/// reporting connection's own serial queue: hop to your own executor there and return quickly,
/// since the connection reads nothing more until the handler returns.
///
/// All methods may be called from any thread. Call ``shutdown()`` when done: connections hold
/// the transport until they close.
public final class Transport: Sendable {
    public let configuration: TransportConfiguration
    let logger: Logger
    private let eventHandler: @Sendable (TransportEvent) -> Void
    /// Serial: accept handlers, listener control and redial timers run here.
    let controlQueue: DispatchQueue
    /// Where connection queues run (each connection has its own serial queue targeting this).
    let ioQueue: DispatchQueue
    let state: Mutex<State>
    private let admitted: Mutex<Set<Ed25519.PublicKey>>

    struct Slot: Hashable {
        var channel: Channel
        var key: Ed25519.PublicKey
    }

    struct Endpoint {
        var endpoint: PeerEndpoint
        var attempt = 0
        /// A dial is in flight or scheduled.
        var dialing = false
        var generation: UInt64
    }

    struct State {
        var isShutDown = false
        var nextID: UInt64 = 1
        var listeners: [Listener] = []
        var connections: [ConnectionID: Connection] = [:]
        var established: [Slot: Connection] = [:]
        var inboundOpen = 0
        var inboundHandshaking = 0
        var openDescriptors = 0
        var endpoints: [Ed25519.PublicKey: Endpoint] = [:]
        var nextGeneration: UInt64 = 1
        /// Traffic of closed connections.
        var retired = TrafficTally()
        var retiredByPeer: [Ed25519.PublicKey: TransportCounters.Traffic] = [:]
        var retiredClients = TransportCounters.Traffic()
        var counters = TransportCounters()
    }

    /// Creates a transport; nothing listens or dials until asked.
    ///
    /// - Parameters:
    ///   - logger: where connection events, refusals and drops are logged. Never payloads or keys.
    ///   - eventHandler: receives every ``TransportEvent``, on the connection's queue.
    public init(
        configuration: TransportConfiguration, logger: Logger = Logger(label: "medledger.net"),
        eventHandler: @escaping @Sendable (TransportEvent) -> Void
    ) throws(NetError) {
        try configuration.validate()
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "node"] = "\(PeerInfo.shortKey(configuration.nodeKey.publicKey))"
        self.logger = logger
        self.eventHandler = eventHandler
        controlQueue = DispatchQueue(label: "medledger.net.control")
        ioQueue = DispatchQueue(label: "medledger.net.io", attributes: .concurrent)
        state = Mutex(State())
        admitted = Mutex(configuration.admittedPeerKeys)
        if let keyLog = configuration.keyLog {
            logger.warning(
                "key log enabled: anyone who reads it can decrypt this node's connections",
                metadata: ["path": "\(keyLog.path)"])
        }
    }

    /// A transport whose events arrive on an `AsyncStream` (unbounded: consume it).
    public static func withEventStream(
        configuration: TransportConfiguration, logger: Logger = Logger(label: "medledger.net")
    ) throws(NetError) -> (Transport, AsyncStream<TransportEvent>) {
        let (stream, continuation) = AsyncStream.makeStream(of: TransportEvent.self)
        let transport = try Transport(configuration: configuration, logger: logger) { continuation.yield($0) }
        return (transport, stream)
    }

    /// This node's public key.
    public var nodeKey: Ed25519.PublicKey { configuration.nodeKey.publicKey }

    // MARK: Admission

    /// Replaces the node keys admitted on the peer port (for example after the configured
    /// observers change). Connections already established stay.
    public func setAdmittedPeerKeys(_ keys: Set<Ed25519.PublicKey>) {
        admitted.withLock { $0 = keys }
    }

    func isAdmittedPeer(_ key: Ed25519.PublicKey) -> Bool {
        admitted.withLock { $0.contains(key) }
    }

    enum Admission {
        case accepted
        case duplicate(String)
    }

    /// Registers an established connection unless its key already has one.
    ///
    /// Two inbound connections (or two outbound) from the same key: the newer one is refused,
    /// unless (on the peer port) nothing was read on the older one for ``TransportConfiguration/replaceSilentAfter``
    /// (its peer vanished without closing it, and has connected again): then the newer replaces it.
    /// An inbound and an outbound one (both nodes dialled each other at once): both sides keep the
    /// connection opened by the node with the lower key, so they agree without talking.
    func admit(_ connection: Connection, _ info: PeerInfo) -> Admission {
        let slot = Slot(channel: info.channel, key: info.key)
        let ours = nodeKey
        let silence = configuration.replaceSilentAfter.nanoseconds
        var replacedSilent = false
        let result: (Admission, Connection?) = state.withLock { state in
            guard !state.isShutDown else { return (.duplicate("the transport is shutting down"), nil) }
            var replaced: Connection?
            if let existing = state.established[slot], existing !== connection {
                let newInitiator = info.direction == .outbound ? ours : info.key
                let oldInitiator = existing.direction == .outbound ? ours : info.key
                let now = Connection.now()
                let lastRead = existing.lastReadAt.load(ordering: .relaxed)
                // Peer port only: a client that waits for an answer may be silent for long.
                let silent = info.channel == .peer && now > lastRead && now - lastRead >= silence
                guard silent || (existing.direction != info.direction && newInitiator.bytes.lexicographicallyPrecedes(oldInitiator.bytes))
                else {
                    return (
                        .duplicate(
                            "key \(PeerInfo.shortKey(info.key)) already has connection \(existing.id) on the \(info.channel.name) port"
                        ), nil
                    )
                }
                replaced = existing
                replacedSilent = silent
            }
            state.established[slot] = connection
            state.counters.established += 1
            if info.direction == .inbound { state.inboundHandshaking -= 1 }
            if let endpoint = connection.endpoint, endpoint.key == info.key {
                state.endpoints[info.key]?.attempt = 0
            }
            return (.accepted, replaced)
        }
        if let replaced = result.1 {
            let why = replacedSilent
                ? "nothing read for \(configuration.replaceSilentAfter) and the peer connected again; keeping the new connection \(connection.id)"
                : "both nodes dialled each other; keeping connection \(connection.id), opened by the lower key"
            replaced.requestClose(.local(.duplicateConnection, why))
        }
        return result.0
    }

    // MARK: Listening

    /// Listens for `channel` connections on `host` (a numeric IPv4 or IPv6 address, or a name)
    /// and `port` (0: any free port). Returns the address actually bound, with its port.
    @discardableResult
    public func listen(host: String, port: UInt16, channel: Channel) throws(NetError) -> SocketAddress {
        let address = try SocketAddress.resolve(host, port: port)[0]
        let listener = try Listener(
            address: address, channel: channel, backlog: configuration.listenBacklog, queue: controlQueue)
        let refused: Bool = state.withLock { state in
            guard !state.isShutDown else { return true }
            state.listeners.append(listener)
            return false
        }
        guard !refused else {
            listener.stop()
            throw NetError(.shutDown, "the transport is shut down")
        }
        listener.start(
            { [weak self] listener, fd, peer in self?.accepted(fd, from: peer, on: listener) ?? Syscall.close(fd) },
            failed: { [weak self] listener, error in
                self?.logger.error("accept failed", metadata: ["listener": "\(listener.address)", "error": "\(error)"])
                self?.state.withLock { $0.counters.refusals[error.name, default: 0] += 1 }
            })
        logger.info("listening", metadata: ["address": "\(listener.address)", "channel": "\(channel.name)"])
        return listener.address
    }

    private func accepted(_ fd: Int32, from peer: SocketAddress?, on listener: Listener) {
        let remote = peer ?? listener.address
        let connection: Connection? = state.withLock { state in
            state.counters.accepted += 1
            guard !state.isShutDown else { return nil }
            guard state.inboundOpen < configuration.maxInboundConnections,
                state.inboundHandshaking < configuration.maxPendingHandshakes
            else {
                state.counters.refusals["too_many_connections", default: 0] += 1
                return nil
            }
            let id = ConnectionID(rawValue: state.nextID)
            state.nextID += 1
            let connection = Connection(
                id: id, fd: fd, direction: .inbound, channel: listener.channel, remote: remote, endpoint: nil,
                transport: self, target: ioQueue)
            state.connections[id] = connection
            state.inboundOpen += 1
            state.inboundHandshaking += 1
            state.openDescriptors += 1
            return connection
        }
        guard let connection else {
            logger.warning("connection refused at accept", metadata: ["remote": "\(remote)", "reason": "too_many_connections or shut down"])
            Syscall.close(fd)
            return
        }
        Syscall.setNoDelay(fd)
        connection.start()
    }

    // MARK: Events and bookkeeping from connections

    func emit(_ event: TransportEvent) {
        eventHandler(event)
    }

    /// A connection ended: unregister it, keep its traffic, count the reason, redial if it served
    /// a configured peer.
    func connectionClosed(_ connection: Connection, reason: CloseReason, stage: Connection.Phase, info: PeerInfo?) {
        let tally = connection.tally.withLock { $0 }
        let redial: Ed25519.PublicKey? = state.withLock { state in
            state.connections[connection.id] = nil
            state.retired.merge(tally)
            if connection.direction == .inbound {
                state.inboundOpen -= 1
                // An admitted connection left the handshaking count in admit().
                if info == nil { state.inboundHandshaking -= 1 }
            }
            if let info {
                let slot = Slot(channel: info.channel, key: info.key)
                if state.established[slot] === connection { state.established[slot] = nil }
                if info.channel == .peer {
                    state.retiredByPeer[info.key, default: .init()] = state.retiredByPeer[info.key, default: .init()] + tally.total
                } else {
                    state.retiredClients = state.retiredClients + tally.total
                }
            }
            switch (reason.origin, stage) {
            case (_, .connecting):
                state.counters.dialFailures[reason.name, default: 0] += 1
            case (.remote, _):
                state.counters.remoteCloses[reason.name, default: 0] += 1
            case (.local, _):
                if info != nil {
                    state.counters.drops[reason.name, default: 0] += 1
                } else {
                    state.counters.refusals[reason.name, default: 0] += 1
                }
            }
            var redial: Ed25519.PublicKey?
            if let endpoint = connection.endpoint, state.endpoints[endpoint.key] != nil {
                state.endpoints[endpoint.key]?.dialing = false
                redial = endpoint.key
            }
            if let info, info.channel == .peer, state.endpoints[info.key] != nil { redial = info.key }
            return redial
        }
        if let redial { scheduleRedial(redial) }
    }

    func descriptorClosed(_ connection: Connection) {
        state.withLock { $0.openDescriptors -= 1 }
    }

    // MARK: Sending

    /// Queues `message` for the peer-port connection of node `key`.
    ///
    /// - Parameter trafficClass: overrides the class derived from the message type.
    /// - Throws: ``NetError/Code/notConnected`` without an established connection for `key`;
    ///   ``NetError/Code/messageTooLarge`` or ``NetError/Code/messageNotAllowed`` for a message no
    ///   connection could carry.
    public func send(_ message: Message, to key: Ed25519.PublicKey, as trafficClass: TrafficClass? = nil) throws(NetError) {
        guard let connection = state.withLock({ $0.established[Slot(channel: .peer, key: key)] }) else {
            throw NetError(.notConnected, "no established peer connection for key \(PeerInfo.shortKey(key))")
        }
        connection.submit(try item(for: message, on: .peer, as: trafficClass))
    }

    /// Queues `message` on one connection (either port).
    public func send(_ message: Message, on connectionID: ConnectionID, as trafficClass: TrafficClass? = nil) throws(NetError) {
        guard let connection = state.withLock({ $0.connections[connectionID] }) else {
            throw NetError(.notConnected, "connection \(connectionID) is closed")
        }
        connection.submit(try item(for: message, on: connection.channel, as: trafficClass))
    }

    /// Queues `message` for every established peer-port connection except those of `excluded`
    /// keys; the message is encoded and compressed once. Returns how many peers it was queued for.
    @discardableResult
    public func broadcast(
        _ message: Message, except excluded: Set<Ed25519.PublicKey> = [], as trafficClass: TrafficClass? = nil
    ) throws(NetError) -> Int {
        let item = try item(for: message, on: .peer, as: trafficClass)
        let targets = state.withLock { state in
            state.established.filter { $0.key.channel == .peer && !excluded.contains($0.key.key) }.map(\.value)
        }
        for connection in targets { connection.submit(item) }
        return targets.count
    }

    /// Encodes and (when it pays) compresses `message`, ready for any connection to seal.
    func item(for message: Message, on channel: Channel, as trafficClass: TrafficClass?) throws(NetError) -> OutboundItem {
        let type = message.type
        guard Connection.allowed(type, on: channel) else {
            throw NetError(.messageNotAllowed, "a \(type.name) cannot be sent on the \(channel.name) port")
        }
        var body = message.encodePayload()
        var compressed = false
        let wanted: Bool
        switch configuration.compression {
        case .never: wanted = false
        case .always: wanted = true
        case .whenSmaller(let threshold): wanted = body.count >= threshold
        }
        if wanted {
            guard body.count <= WireLimits.maxInflatedPayload else {
                throw NetError(.messageTooLarge, "a \(type.name) of \(body.count) bytes exceeds the 16 MiB inflated limit")
            }
            var packed = ByteWriter(reservingCapacity: body.count / 2 + 16)
            packed.write(UInt32(body.count))
            packed.writeRaw(Zlib.deflate(body))
            if configuration.compression == .always || packed.count < body.count {
                body = packed.bytes
                compressed = true
            }
        }
        let item = OutboundItem(
            type: type, trafficClass: trafficClass ?? TrafficClass(type), body: body, compressed: compressed)
        guard body.count + WireLimits.sealTagSize <= WireLimits.maxFramePayload, item.wireSize <= configuration.maxQueuedBytes else {
            throw NetError(
                .messageTooLarge,
                "a \(type.name) of \(body.count) bytes does not fit in a frame (8 MiB) or the queue (\(configuration.maxQueuedBytes) bytes)")
        }
        return item
    }

    // MARK: Connections

    /// The established connections.
    public func connectedPeers() -> [PeerInfo] {
        let connections = state.withLock { Array($0.established.values) }
        return connections.compactMap { $0.peerInfo }.sorted { $0.connectionID < $1.connectionID }
    }

    /// Closes one connection (reason `normal`).
    public func close(_ connectionID: ConnectionID) {
        state.withLock { $0.connections[connectionID] }?.requestClose(.local(.normal, "closed by this node"))
    }

    /// Stops listening, stops redialling and closes every connection (reason `normal`). The
    /// transport cannot be used again.
    public func shutdown() {
        let (listeners, connections) = state.withLock { state in
            state.isShutDown = true
            state.endpoints = [:]
            let listeners = state.listeners
            state.listeners = []
            return (listeners, Array(state.connections.values))
        }
        controlQueue.async { listeners.forEach { $0.stop() } }
        for connection in connections {
            connection.requestClose(.local(.normal, "the node is shutting down"))
        }
        logger.info("transport shut down", metadata: ["connections": "\(connections.count)"])
    }

    // MARK: Counters

    /// A snapshot of every counter (Protocol/TRANSPORT.md, "Counters").
    public func counters() -> TransportCounters {
        let (live, snapshot) = state.withLock { state -> ([Connection], TransportCounters) in
            var counters = state.counters
            counters.byPeer = state.retiredByPeer
            counters.clientTraffic = state.retiredClients
            state.retired.add(to: &counters)
            counters.openConnections = state.connections.count
            counters.establishedConnections = state.established.count
            return (Array(state.connections.values), counters)
        }
        var counters = snapshot
        for connection in live {
            let tally = connection.tally.withLock { $0 }
            tally.add(to: &counters)
            if let info = connection.peerInfo {
                if info.channel == .peer {
                    counters.byPeer[info.key] = counters.byPeer[info.key, default: .init()] + tally.total
                } else {
                    counters.clientTraffic = counters.clientTraffic + tally.total
                }
            }
        }
        return counters
    }

    /// Descriptors of connections not yet closed (a test hook for leak checks).
    package var openDescriptorCount: Int { state.withLock { $0.openDescriptors } }
}
