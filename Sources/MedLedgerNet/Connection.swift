import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerWire
import Synchronization

/// One TCP connection: its socket, its sources and timer, its handshake or session, its queues.
///
/// Concurrency: every `var` below is owned by ``queue`` and only read or written by blocks running
/// on it (the sources, the timer, and the `async` blocks the transport submits). That is why the
/// class can be `@unchecked Sendable`: its immutable `let`s are shared, its mutable state never
/// leaves the queue. The traffic tally, read by ``Transport/counters()`` from any thread, sits in
/// its own `Mutex`.
final class Connection: @unchecked Sendable {
    enum Phase: Equatable {
        /// Outbound: `connect(2)` in progress.
        case connecting
        case handshaking
        case established
        case closed
    }

    /// What the connection knows once its handshake is done.
    struct Session {
        var info: PeerInfo
        var sealer: FrameSealer
        var opener: FrameOpener?
    }

    let id: ConnectionID
    let fd: Int32
    let queue: DispatchQueue
    let direction: ConnectionDirection
    let channel: Channel
    let remote: SocketAddress
    /// The endpoint an outbound connection was dialled for.
    let endpoint: PeerEndpoint?
    let transport: Transport
    let configuration: TransportConfiguration
    let logger: Logger
    let tally = Mutex(TrafficTally())
    /// The peer, once admitted; readable from any thread.
    private let admittedPeer = Mutex<PeerInfo?>(nil)

    var peerInfo: PeerInfo? { admittedPeer.withLock { $0 } }
    /// When bytes last arrived (``now()`` nanoseconds); readable from any thread, so that the
    /// transport can tell a silent connection from a live one when the same key connects again.
    let lastReadAt = Atomic<UInt64>(0)

    // MARK: State owned by `queue`

    var phase: Phase
    var handshake: Handshake?
    var session: Session?
    /// Whether `connected` was reported (so `disconnected` must be).
    var announced = false
    var decoder = FrameDecoder(mode: .strict)
    let readBuffer: UnsafeMutableRawBufferPointer
    var outbound: OutboundQueue
    var writeBuffer: [UInt8] = []
    var writeOffset = 0
    var readSource: DispatchSourceRead?
    var writeSource: DispatchSourceWrite?
    var writeSourceSuspended = true
    var timer: DispatchSourceTimer?
    /// Sources created and not yet through their cancel handler; the descriptor is closed when the
    /// last one is.
    var liveSources = 0
    var descriptorClosed = false
    var flushScheduled = false
    /// When the connection started its current stage (connect or handshake), for its deadline.
    var stageStarted: UInt64
    /// When the first byte of a frame not yet complete arrived.
    var partialFrameSince: UInt64?
    var lastWriteProgress: UInt64
    var lastPingSent: UInt64
    var outstandingPing: (nonce: UInt64, sentAt: UInt64)?

    static let readChunk = 64 * 1024
    /// Sealed bytes kept ready in the write buffer; the rest waits in the priority queue.
    static let writeHighWater = 256 * 1024

    init(
        id: ConnectionID, fd: Int32, direction: ConnectionDirection, channel: Channel, remote: SocketAddress,
        endpoint: PeerEndpoint?, transport: Transport, target: DispatchQueue
    ) {
        self.id = id
        self.fd = fd
        self.direction = direction
        self.channel = channel
        self.remote = remote
        self.endpoint = endpoint
        self.transport = transport
        self.configuration = transport.configuration
        var logger = transport.logger
        logger[metadataKey: "connection"] = "\(id.rawValue)"
        logger[metadataKey: "remote"] = "\(remote)"
        logger[metadataKey: "channel"] = "\(channel.name)"
        self.logger = logger
        queue = DispatchQueue(label: "medledger.net.connection.\(id.rawValue)", target: target)
        phase = direction == .outbound ? .connecting : .handshaking
        readBuffer = .allocate(byteCount: Self.readChunk, alignment: 16)
        outbound = OutboundQueue(
            maxBytes: configuration.maxQueuedBytes, maxFrames: configuration.maxQueuedFrames,
            maxGossipBytes: configuration.maxQueuedGossipBytes)
        let now = Self.now()
        stageStarted = now
        lastWriteProgress = now
        lastPingSent = now
        lastReadAt.store(now, ordering: .relaxed)
    }

    deinit {
        readBuffer.deallocate()
        if !descriptorClosed { Syscall.close(fd) }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    // MARK: Lifecycle

    /// Starts the connection: the timer, then the connect wait (outbound) or the handshake (inbound).
    func start() {
        queue.async { self.begin() }
    }

    private func begin() {
        let tick = Int(configuration.tickInterval.nanoseconds)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(
            deadline: .now() + .nanoseconds(tick), repeating: .nanoseconds(tick), leeway: .nanoseconds(tick / 4))
        timer.setEventHandler { self.tick() }
        timer.resume()
        self.timer = timer
        makeWriteSource()
        if phase == .connecting {
            resumeWriteSource()
        } else {
            startHandshake()
        }
    }

    private func makeWriteSource() {
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { self.writable() }
        source.setCancelHandler { self.sourceCancelled() }
        liveSources += 1
        writeSource = source
        writeSourceSuspended = true
    }

    func resumeWriteSource() {
        guard writeSourceSuspended, let source = writeSource else { return }
        writeSourceSuspended = false
        source.resume()
    }

    func suspendWriteSource() {
        guard !writeSourceSuspended, let source = writeSource else { return }
        writeSourceSuspended = true
        source.suspend()
    }

    private func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0, !descriptorClosed {
            descriptorClosed = true
            Syscall.close(fd)
            transport.descriptorClosed(self)
        }
    }

    /// The socket became writable: a connect finished, or there is room to write.
    private func writable() {
        switch phase {
        case .connecting:
            let status = Syscall.pendingError(fd)
            guard status == 0 else {
                let error = Syscall.Errno(code: status)
                close(CloseReason(name: error.name, code: 0, origin: .remote, detail: "connect to \(remote) failed: \(error)"))
                return
            }
            suspendWriteSource()
            startHandshake()
        case .handshaking, .established:
            flush()
        case .closed:
            suspendWriteSource()
        }
    }

    private func startHandshake() {
        phase = .handshaking
        stageStarted = Self.now()
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { self.readable() }
        source.setCancelHandler { self.sourceCancelled() }
        liveSources += 1
        readSource = source
        source.resume()

        let expected = endpoint?.key
        let channel = self.channel
        let transport = self.transport
        var handshake = Handshake(
            role: direction == .outbound ? .initiator : .responder,
            configuration: HandshakeConfiguration(
                chainID: configuration.chainID, channel: channel, nodeKey: configuration.nodeKey,
                versions: configuration.protocolVersions,
                admits: { key in
                    if let expected, key != expected { return false }
                    return channel == .client || transport.isAdmittedPeer(key)
                }))
        if let hello = handshake.start() {
            appendRaw(hello)
        }
        self.handshake = handshake
        flush()
    }

    /// The handshake finished: check for a duplicate, then announce the peer.
    func established(_ secure: SecureSession) {
        let info = PeerInfo(
            connectionID: id, key: secure.peerNodeKey, channel: channel, direction: direction, remoteAddress: remote,
            protocolVersion: secure.version)
        session = Session(info: info, sealer: secure.sealer, opener: secure.opener)
        handshake = nil
        phase = .established
        let now = Self.now()
        lastPingSent = now
        lastWriteProgress = now
        if let keyLog = configuration.keyLog {
            do {
                try keyLog.append(secure.keyLogEntry)
            } catch {
                logger.error("key log write failed", metadata: ["error": "\(error)"])
            }
        }
        switch transport.admit(self, info) {
        case .accepted:
            announced = true
            admittedPeer.withLock { $0 = info }
            logger.info(
                "peer connected",
                metadata: ["peer": "\(PeerInfo.shortKey(info.key))", "direction": "\(direction.rawValue)"])
            transport.emit(.connected(info))
            flush()
        case .duplicate(let detail):
            close(.local(.duplicateConnection, detail))
        }
    }

    // MARK: Closing

    /// Closes from any thread.
    func requestClose(_ reason: CloseReason) {
        queue.async { self.close(reason) }
    }

    /// Closes the connection once: a `DISCONNECT` first when this side decided (plain before the
    /// keys exist, sealed after), then the sources, the timer and the descriptor.
    func close(_ reason: CloseReason) {
        guard phase != .closed else { return }
        let stage = phase
        if reason.origin == .local, stage != .connecting {
            if let farewell = farewell(for: reason) {
                // After whatever is half-written, so the peer's decoder stays in step.
                appendRaw(farewell)
                writeOnce()
            }
            Syscall.shutdownWrite(fd)
        }
        phase = .closed
        outbound.removeAll()
        writeBuffer = []
        writeOffset = 0
        decoder = FrameDecoder(mode: .strict)
        handshake = nil
        timer?.cancel()
        timer = nil
        readSource?.cancel()
        readSource = nil
        if let source = writeSource {
            source.cancel()
            if writeSourceSuspended {
                writeSourceSuspended = false
                source.resume()
            }
            writeSource = nil
        }
        if liveSources == 0, !descriptorClosed {
            descriptorClosed = true
            Syscall.close(fd)
            transport.descriptorClosed(self)
        }
        let info = announced ? session?.info : nil
        session = nil
        let level: Logger.Level = reason.name == "normal" || reason.origin == .remote ? .info : .warning
        logger.log(
            level: level, stage == .established && announced ? "connection closed" : "connection refused",
            metadata: [
                "reason": "\(reason.name)", "origin": "\(reason.origin.rawValue)", "detail": "\(reason.detail)",
                "peer": "\(info.map { PeerInfo.shortKey($0.key) } ?? "-")",
            ])
        transport.connectionClosed(self, reason: reason, stage: stage, info: info)
        if let info { transport.emit(.disconnected(info, reason)) }
    }

    /// The `DISCONNECT` frame telling the peer why this side closes.
    private func farewell(for reason: CloseReason) -> Frame? {
        if var handshake {
            let frame = handshake.disconnect(for: handshakeError(reason))
            self.handshake = handshake
            return frame
        }
        guard session != nil else { return nil }
        let text = String(decoding: Array(reason.detail.utf8.prefix(400)), as: UTF8.self)
        let body = Message.disconnect(Disconnect(code: reason.code, reason: text)).encodePayload()
        return try? seal(OutboundItem(type: .disconnect, trafficClass: .control, body: body, compressed: false))
    }

    private func handshakeError(_ reason: CloseReason) -> HandshakeError {
        var error = HandshakeError(.normal, reason.detail)
        error.code = reason.code
        return error
    }
}
