import Dispatch
import MedLedgerWire

extension Connection {
    /// Reads what the socket has (at most four chunks per event, so one busy peer cannot starve
    /// the others sharing the threads) and handles every complete frame.
    func readable() {
        for _ in 0..<4 {
            guard phase == .handshaking || phase == .established else { return }
            let count: Int?
            do {
                count = try Syscall.read(fd, into: readBuffer)
            } catch {
                close(.remote(error.name, "reading from the socket failed: \(error)"))
                return
            }
            guard let count else { return }
            guard count > 0 else {
                close(.remote("eof", "the peer closed the connection"))
                return
            }
            lastReadAt.store(Self.now(), ordering: .relaxed)
            decoder.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            processFrames()
            if count < readBuffer.count { return }
        }
    }

    /// Takes every complete frame out of the decoder. The decoder checks each header (including
    /// the 8 MiB length limit) before it buffers the payload, so a peer can make this connection
    /// hold at most one frame plus one read chunk.
    func processFrames() {
        while phase == .handshaking || phase == .established {
            let frame: Frame
            do {
                guard let next = try decoder.next() else { break }
                frame = next
            } catch {
                close(.local(error))
                return
            }
            partialFrameSince = nil
            tally.withLock { $0.countIn(frame.header.type, bytes: WireLimits.headerSize + frame.payload.count) }
            if phase == .handshaking {
                handshakeFrame(frame)
            } else {
                establishedFrame(frame)
            }
        }
        if phase != .closed, decoder.bufferedByteCount > 0, partialFrameSince == nil {
            partialFrameSince = Self.now()
        }
    }

    private func handshakeFrame(_ frame: Frame) {
        guard var handshake else { return }
        if frame.header.type == .disconnect {
            // The other side refused us. Before the keys exist its reason is readable.
            if frame.header.flags.isEmpty, case .disconnect(let disconnect)? = try? Message.decode(type: .disconnect, payload: frame.payload) {
                close(.remote(disconnect))
            } else {
                close(.remote("refused_by_peer", "the peer sent a sealed DISCONNECT during the handshake"))
            }
            return
        }
        do {
            let step = try handshake.receive(frame)
            self.handshake = handshake
            switch step {
            case .send(let frames):
                frames.forEach(appendRaw)
                flush()
            case .established(let frames, let secure):
                frames.forEach(appendRaw)
                established(secure)
            }
        } catch {
            self.handshake = handshake
            close(.local(error))
        }
    }

    private func establishedFrame(_ frame: Frame) {
        guard var current = session else { return }
        guard frame.header.flags.contains(.sealed), frame.header.version == current.info.protocolVersion else {
            close(
                .local(
                    .unexpectedMessage,
                    "a \(frame.header.type.name) frame with flags \(frame.header.flags.names) and version \(frame.header.version) on an established channel: every frame must be sealed with the agreed version"))
            return
        }
        let decoded: DecodedFrame
        do {
            decoded = try frame.decode(opener: &current.opener)
        } catch {
            switch error {
            case .wire(let wire): close(.local(wire))
            case .sealedWithoutKey: close(.local(.unexpectedMessage, "no key to open a sealed frame"))
            }
            return
        }
        session = current
        let type = decoded.header.type
        switch decoded.message {
        case .disconnect(let disconnect):
            close(.remote(disconnect))
        case .ping(let ping):
            enqueue(
                OutboundItem(
                    type: .pong, trafficClass: .control, body: Message.pong(ping).encodePayload(), compressed: false))
        case .pong(let pong):
            if let outstanding = outstandingPing, outstanding.nonce == pong.nonce { outstandingPing = nil }
        case .hello, .auth:
            close(.local(.unexpectedMessage, "a \(type.name) after the handshake"))
        default:
            guard Self.allowed(type, on: channel) else {
                close(.local(.unexpectedMessage, "a \(type.name) is not allowed on the \(channel.name) port"))
                return
            }
            transport.emit(.message(decoded.message, from: current.info))
        }
    }

    /// Whether a message of `type` may travel on a connection of `channel` once established.
    static func allowed(_ type: MessageType, on channel: Channel) -> Bool {
        switch type.port {
        case .both: type != .hello && type != .auth
        case .peer: channel == .peer
        case .client: channel == .client
        }
    }

    // MARK: Deadlines

    /// Checks every deadline of the connection's current stage.
    func tick() {
        let now = Self.now()
        func overdue(_ since: UInt64, _ limit: Duration) -> Bool { now &- since > limit.nanoseconds }
        switch phase {
        case .connecting:
            if overdue(stageStarted, configuration.connectTimeout) {
                close(.remote("timed_out", "no TCP connection to \(remote) within \(configuration.connectTimeout)"))
            }
        case .handshaking:
            if overdue(stageStarted, configuration.handshakeTimeout) {
                close(.local(.handshakeTimeout, "the handshake did not finish within \(configuration.handshakeTimeout)"))
            }
        case .established:
            if let since = partialFrameSince, overdue(since, configuration.frameTimeout) {
                close(
                    .local(
                        "frame_timeout", code: .tooSlow,
                        "a frame started arriving \(configuration.frameTimeout) ago and is still incomplete (\(decoder.bufferedByteCount) bytes)"))
                return
            }
            if hasPendingWrites, overdue(lastWriteProgress, configuration.writeStallTimeout) {
                close(
                    .local(
                        "write_stall", code: .tooSlow,
                        "\(writeBuffer.count - writeOffset + outbound.byteCount) bytes waited \(configuration.writeStallTimeout) with no progress: the peer does not read"))
                return
            }
            if let outstanding = outstandingPing {
                if overdue(outstanding.sentAt, configuration.pingTimeout) {
                    close(.local(.pingTimeout, "no PONG within \(configuration.pingTimeout)"))
                }
            } else if overdue(lastPingSent, configuration.pingInterval) {
                let nonce = UInt64.random(in: 0...UInt64.max)
                outstandingPing = (nonce, now)
                lastPingSent = now
                enqueue(
                    OutboundItem(
                        type: .ping, trafficClass: .control, body: Message.ping(Ping(nonce: nonce)).encodePayload(),
                        compressed: false))
            }
        case .closed:
            break
        }
    }
}
