import Dispatch
import MedLedgerWire

/// How the inspector reads a capture.
public struct CaptureOptions: Sendable {
    /// Keys from an operator's key log (WIRE.md 4.4), by initiator nonce.
    public var keyLog: [Bytes32: KeyLogEntry] = [:]
    public var filter = CaptureFilter()
    /// What TCP reassembly may hold back.
    public var reassembly = ReassemblyLimits()
    /// Frame payloads held while their last bytes are awaited, over all connections.
    public var maxHeldPayloadBytes = 256 * 1024 * 1024
    /// Connections followed; later ones are counted but not decoded.
    public var maxConnections = 65_536
    /// Sealing sequences tried after framing was lost, to find where a direction's count went.
    public var resyncSequenceWindow: UInt64 = 1024

    public init() {}
}

/// Reads a pcap or pcapng capture incrementally and reports every MedLedger frame of every TCP
/// connection in it: reassembles TCP, cuts the streams into frames (resynchronising on the magic
/// after a gap or a mid-stream start), follows each connection's handshake and, with a key log,
/// opens sealed frames with the library's own ``FrameOpener`` and decodes them.
public final class CaptureInspector {
    public let options: CaptureOptions
    private var reader = CaptureReader()
    private var flows: [FlowKey: (connection: Int, side: Int)] = [:]
    private var connections: [ConnectionState] = []
    private var reassemblyBudget: Int
    private var heldPayloadBytes = 0
    private var connectionLimitNoted = false
    /// What the reading side counts (packets, segments, gaps) and what the decoding side counts
    /// (messages, frames, handshakes): two values, so the two sides never write the same one.
    private var reading = CaptureStatistics()
    private var decoding = CaptureStatistics()
    /// The packet being read (for notes' time and number).
    private var current = (timestamp: Int64(0), number: 0)
    /// The packet that completed the frame being decoded.
    private var decodingCurrent = (timestamp: Int64(0), number: 0)
    private var pipeline: Pipeline?

    /// Everything counted so far (complete once ``finish(_:)`` returned).
    public var statistics: CaptureStatistics { decoding.merging(reading: reading) }

    public init(options: CaptureOptions = CaptureOptions()) {
        self.options = options
        reassemblyBudget = options.reassembly.total
    }

    /// The capture format, once its header was read.
    public var format: CaptureReader.Format? { reader.format }

    /// Decodes frames on a second thread from now on, while this one reads, reassembles and cuts
    /// frames: records go to `output`, on that thread, in capture order, and the `emit` closures
    /// given to ``feed(_:_:)`` and ``finish(_:)`` are not called. For reading a file at speed;
    /// call it before the first ``feed(_:_:)``.
    public func startPipeline(output: @escaping (CaptureRecord) -> Void) {
        pipeline = Pipeline(output: output)
    }

    /// Reads more of the capture; `emit` gets every record these bytes complete.
    public func feed<C: Collection>(_ bytes: C, _ emit: (CaptureRecord) -> Void) throws(CaptureError) where C.Element == UInt8 {
        reader.append(bytes)
        reading.captureBytes = reader.bytesRead
        while let packet = try reader.next() {
            process(packet, emit)
        }
    }

    /// The end of the capture: every connection's waiting segments and open frames are reported
    /// (as gaps and incomplete frames), then a capture that ends inside a record is an error.
    public func finish(_ emit: (CaptureRecord) -> Void) throws(CaptureError) {
        for index in connections.indices {
            for side in 0..<2 { close(index, side: side, emit) }
        }
        if let pipeline {
            submit(pipeline)
            pipeline.queue.sync {}
        }
        decoding.connections = connections.map(\.summary)
        try reader.finish()
    }

    // MARK: Packets

    struct FlowKey: Hashable {
        var source: CaptureEndpoint
        var destination: CaptureEndpoint

        /// One combine of a cheap mix of both endpoints (equality still compares them whole).
        func hash(into hasher: inout Hasher) {
            hasher.combine(Self.mix(source) &* 0x9E37_79B9_7F4A_7C15 ^ Self.mix(destination))
        }

        @inline(__always)
        static func mix(_ endpoint: CaptureEndpoint) -> UInt64 {
            switch endpoint.address {
            case .v4(let address): UInt64(address) << 16 | UInt64(endpoint.port)
            case .v6(let high, let low): (high &* 31 ^ low) &* 0xBF58_476D_1CE4_E5B9 ^ UInt64(endpoint.port)
            }
        }
    }

    private func process(_ packet: CapturedPacket, _ emit: (CaptureRecord) -> Void) {
        reading.packets += 1
        current = (packet.timestamp, packet.number)
        switch PacketDecoding.decode(packet) {
        case .ignored:
            reading.ignoredPackets += 1
        case .note(let detail):
            reading.unfollowedPackets += 1
            dispatch(.note(makeNote(.packet, detail: detail)), emit)
        case .tcp(let segment):
            reading.tcpSegments += 1
            segmentArrived(segment, emit)
        }
    }

    private func segmentArrived(_ segment: TCPSegment, _ emit: (CaptureRecord) -> Void) {
        let key = FlowKey(source: segment.source, destination: segment.destination)
        var found = flows[key]
        // A new SYN on a 4-tuple already seen starts a new connection.
        if let existing = found, segment.syn, !segment.ack, connections[existing.connection].directions[existing.side].reassembler.nextSequence != nil,
            connections[existing.connection].directions[existing.side].reassembler.nextSequence != segment.sequence &+ 1
        {
            for side in 0..<2 { close(existing.connection, side: side, emit) }
            found = nil
        }
        if found == nil {
            guard connections.count < options.maxConnections else {
                reading.unfollowedPackets += 1
                if !connectionLimitNoted {
                    connectionLimitNoted = true
                    dispatch(.note(makeNote(.limit, detail: "more than \(options.maxConnections) connections: later ones are not followed")), emit)
                }
                return
            }
            let id = connections.count
            let shown = options.filter.admits(segment.source, segment.destination)
            connections.append(ConnectionState(id: id + 1, a: segment.source, b: segment.destination, shown: shown))
            flows[key] = (id, 0)
            flows[FlowKey(source: segment.destination, destination: segment.source)] = (id, 1)
            found = (id, 0)
        }
        let (index, side) = found!
        let connection = connections[index]
        if segment.syn { dispatch(.syn(connection, side: side, acknowledging: segment.ack), emit) }
        let limits = options.reassembly
        var budget = reassemblyBudget
        let direction = connection.directions[side]
        if segment.syn, direction.reassembler.nextSequence == nil { direction.sawStart = true }
        let (retransmitted, outOfOrder) = (direction.reassembler.retransmittedSegments, direction.reassembler.outOfOrderSegments)
        direction.reassembler.add(segment, limits: limits, budget: &budget) { piece in
            self.deliver(piece, connection: connection, side: side, emit)
        }
        reassemblyBudget = budget
        reading.retransmittedSegments += direction.reassembler.retransmittedSegments - retransmitted
        reading.outOfOrderSegments += direction.reassembler.outOfOrderSegments - outOfOrder
        if segment.rst || segment.fin {
            // Nothing more comes this way (RST: either way); what waits is released.
            close(index, side: side, emit)
            if segment.rst { close(index, side: 1 - side, emit) }
        }
    }

    private func close(_ index: Int, side: Int, _ emit: (CaptureRecord) -> Void) {
        let connection = connections[index]
        let direction = connection.directions[side]
        var budget = reassemblyBudget
        direction.reassembler.flush(budget: &budget) { piece in
            self.deliver(piece, connection: connection, side: side, emit)
        }
        reassemblyBudget = budget
        if direction.framer != nil {
            let held = direction.framer!.heldBytes
            direction.framer!.finish { self.dispatchFramed($0, connection, side, emit) }
            heldPayloadBytes -= held
            direction.framer = StreamFramer(synchronised: false)
            direction.closed = true
        }
    }

    // MARK: Streams

    private func deliver(_ piece: StreamPiece, connection: ConnectionState, side: Int, _ emit: (CaptureRecord) -> Void) {
        let direction = connection.directions[side]
        if direction.framer == nil {
            direction.framer = StreamFramer(synchronised: direction.sawStart)
            // Joined mid-stream: the frame count of this direction is not known.
            if !direction.sawStart { dispatchFramed(.lostSync, connection, side, emit) }
        }
        let heldBefore = direction.framer!.heldBytes
        switch piece {
        case .data(let bytes):
            let limit = options.maxHeldPayloadBytes
            let held = heldPayloadBytes
            direction.framer!.feed(bytes, canHold: { held + $0 <= limit }) { event in
                self.dispatchFramed(event, connection, side, emit)
            }
        case .gap(let count):
            reading.gaps += 1
            reading.gapBytes += count
            let offset = direction.framer!.streamOffset
            if connection.shown, options.filter.showsNotes {
                let note = makeNote(
                    .gap, connection: connection, side: side, bytes: count, streamOffset: offset,
                    detail: "\(count) bytes of the stream are not in the capture (lost, or cut by the snapshot length)")
                dispatch(.note(note), emit)
            }
            direction.framer!.gap(count) { event in self.dispatchFramed(event, connection, side, emit) }
        }
        heldPayloadBytes += direction.framer!.heldBytes - heldBefore
    }

    private func framed(_ event: FramerEvent, connection: ConnectionState, side: Int, _ emit: (CaptureRecord) -> Void) {
        switch event {
        case .frame(let header, let headerBytes, let payload, let offset):
            reportResync(connection, side: side, at: offset, emit)
            frame(header, headerBytes: headerBytes, payload: payload, offset: offset, connection: connection, side: side, emit)
        case .incomplete(let header, let offset, let missing):
            reportResync(connection, side: side, at: offset, emit)
            var sequence: UInt64?
            if header.flags.contains(.sealed) {
                sequence = connection.directions[side].sequenceKnown ? connection.directions[side].sealedCount : nil
                connection.directions[side].sealedCount += 1
            }
            decoding.incompleteFrames += 1
            message(header, offset: offset, sequence: sequence, content: .incomplete(missing: missing), connection: connection, side: side, emit)
        case .malformed(let error, let offset):
            decoding.malformedFrames[error.code.name, default: 0] += 1
            connection.malformedFrames += 1
            if connection.shown, options.filter.showsNotes {
                emitNote(
                    .malformedFrame, connection: connection, side: side, streamOffset: offset, error: error.code.name,
                    detail: "\(error.code.name) at frame offset \(error.offset): \(error.detail); looking for the next frame", emit)
            }
        case .skipped(let count, _):
            decoding.skippedBytes += count
            connection.directions[side].skippedSinceSync += count
        case .lostSync:
            connection.directions[side].sequenceKnown = false
        }
    }

    private func reportResync(_ connection: ConnectionState, side: Int, at offset: Int, _ emit: (CaptureRecord) -> Void) {
        let skipped = connection.directions[side].skippedSinceSync
        guard skipped > 0 else { return }
        connection.directions[side].skippedSinceSync = 0
        decoding.resyncs += 1
        if connection.shown, options.filter.showsNotes {
            emitNote(
                .resync, connection: connection, side: side, bytes: skipped, streamOffset: offset,
                detail: "found a frame again after skipping \(skipped) bytes", emit)
        }
    }

    // MARK: Frames

    private func frame(
        _ header: FrameHeader, headerBytes: [UInt8], payload: [UInt8], offset: Int, connection: ConnectionState, side: Int,
        _ emit: (CaptureRecord) -> Void
    ) {
        let content: CaptureMessage.Content
        var sequence: UInt64?
        if header.flags.contains(.sealed) {
            let direction = connection.directions[side]
            sequence = direction.sequenceKnown ? direction.sealedCount : nil
            if direction.hasKey {
                switch open(header, headerBytes: headerBytes, payload: payload, connection: connection, side: side) {
                case .success(let frame, let at):
                    sequence = at
                    content = .decoded(frame.message, messageBytes: frame.messageBytes)
                    decoding.decryptedFrames += 1
                case .failure(let error):
                    content = .failed(error)
                    decoding.malformedFrames[error.code.name, default: 0] += 1
                    if error.code == .decryptionFailed {
                        decoding.decryptionFailures += 1
                        if connection.shown, options.filter.showsNotes {
                            emitNote(
                                .decryptionFailed, connection: connection, side: side, streamOffset: offset, error: error.code.name,
                                detail: error.detail, emit)
                        }
                    }
                }
            } else {
                connection.directions[side].sealedCount += 1
                decoding.sealedUnopened += 1
                content = .sealed(reason: connection.keyReason)
            }
        } else {
            do {
                let frame = try Frame.decodePlaintext(header: header, plaintext: payload)
                content = .decoded(frame.message, messageBytes: frame.messageBytes)
            } catch {
                content = .failed(error)
                decoding.malformedFrames[error.code.name, default: 0] += 1
            }
        }
        var heights: [ClosedRange<UInt64>] = []
        if case .decoded(let message, _) = content {
            if header.type == .hello { handshakeStep(message, connection: connection, side: side, emit) }
            if options.filter.height != nil { heights = MessageSummary.heights(message) }
        }
        if header.type == .auth { connection.directions[side].sentAuth = true }
        if header.type == .disconnect, !connection.established { connection.refusedBy = side }
        message(
            header, offset: offset, sequence: sequence, content: content, connection: connection, side: side,
            heights: heights, emit)
        if header.type == .auth, connection.directions[0].sentAuth, connection.directions[1].sentAuth, !connection.established {
            connection.established = true
            if connection.shown, options.filter.showsNotes {
                let keys = connection.keys != nil ? "keys from the key log" : "no keys for it"
                let initiator = connection.initiatorSide.map { connection.endpoint($0).description } ?? "unknown"
                emitNote(.handshake, connection: connection, side: side, detail: "established (initiator \(initiator), \(keys))", emit)
            }
        }
    }

    /// Windows of sequences tried in one direction, after framing was lost, before giving up on
    /// opening its frames.
    public static let maxSequenceSearches = 8

    private enum Opened {
        case success(DecodedFrame, sequence: UInt64)
        case failure(WireError)
    }

    /// Opens a sealed payload at this direction's sequence, or, when framing was lost, at the
    /// first sequence in a window after the last known one that opens it.
    private func open(_ header: FrameHeader, headerBytes: [UInt8], payload: [UInt8], connection: ConnectionState, side: Int) -> Opened {
        let direction = connection.directions[side]
        let first = direction.sealedCount
        let tries: UInt64 = direction.sequenceKnown ? 1 : options.resyncSequenceWindow
        var lastError: WireError?
        guard let opener = direction.opener else {
            return .failure(WireError(.decryptionFailed, layer: .frame, offset: 16, "no key for this direction"))
        }
        for step in 0..<tries {
            do {
                let plaintext = try opener.open(payload, header: headerBytes, sequence: first + step)
                direction.sealedCount = first + step + 1
                direction.sequenceKnown = true
                direction.failedSearches = 0
                do {
                    return .success(try Frame.decodePlaintext(header: header, plaintext: plaintext), sequence: first + step)
                } catch {
                    return .failure(error)
                }
            } catch {
                lastError = error
            }
        }
        if direction.sequenceKnown {
            direction.sealedCount += 1
        } else {
            // The window did not find the count again. A few more frames may; past that, searching
            // costs a window of attempts per frame for nothing (wrong keys, a large loss).
            direction.failedSearches += 1
            if direction.failedSearches >= CaptureInspector.maxSequenceSearches {
                direction.hasKey = false
                direction.opener = nil
            }
        }
        return .failure(lastError ?? WireError(.decryptionFailed, layer: .frame, offset: 16, "no key"))
    }

    /// Follows the handshake: the HELLOs' nonces find the connection's keys in the key log and
    /// say which side initiated.
    private func handshakeStep(_ message: Message, connection: ConnectionState, side: Int, _ emit: (CaptureRecord) -> Void) {
        guard case .hello(let hello) = message else { return }
        connection.directions[side].helloNonce = hello.nonce
        connection.channel = hello.channel
        if let entry = options.keyLog[hello.nonce] {
            connection.initiatorSide = side
            connection.keys = entry
        } else if connection.initiatorSide == nil, connection.directions[1 - side].helloNonce == nil {
            connection.initiatorSide = side
        }
        if let entry = connection.keys, let initiator = connection.initiatorSide {
            connection.directions[initiator].opener = try? FrameStreamOpener(key: entry.initiatorToResponder.bytes)
            connection.directions[1 - initiator].opener = try? FrameStreamOpener(key: entry.responderToInitiator.bytes)
            connection.directions[initiator].hasKey = true
            connection.directions[1 - initiator].hasKey = true
        }
    }

    private func message(
        _ header: FrameHeader, offset: Int, sequence: UInt64?, content: CaptureMessage.Content, connection: ConnectionState, side: Int,
        heights: [ClosedRange<UInt64>] = [], _ emit: (CaptureRecord) -> Void
    ) {
        let filter = options.filter
        guard connection.shown else { return }
        if !filter.types.isEmpty, !filter.types.contains(header.type) { return }
        if let height = filter.height, !heights.contains(where: { $0.contains(height) }) { return }
        let direction = connection.initiatorSide.map { $0 == side ? Direction.initiatorToResponder : .responderToInitiator }
        let record = CaptureMessage(
            timestamp: decodingCurrent.timestamp, packet: decodingCurrent.number, connection: connection.id, source: connection.endpoint(side),
            destination: connection.endpoint(1 - side), direction: direction, sequence: sequence, header: header, streamOffset: offset,
            content: content, heights: heights)
        decoding.count(record)
        connection.messages += 1
        connection.bytes += record.wireBytes
        emit(.message(record))
    }

    private func makeNote(
        _ kind: CaptureNote.Kind, connection: ConnectionState? = nil, side: Int = 0, bytes: Int? = nil, streamOffset: Int? = nil,
        error: String? = nil, detail: String, at time: (timestamp: Int64, number: Int)? = nil
    ) -> CaptureNote {
        let time = time ?? current
        return CaptureNote(
            timestamp: time.timestamp, packet: time.number, kind: kind, connection: connection?.id,
            source: connection?.endpoint(side), destination: connection.map { $0.endpoint(1 - side) }, bytes: bytes,
            streamOffset: streamOffset, error: error, detail: detail)
    }

    /// A note from the decoding side, at the time of the frame being decoded.
    private func emitNote(
        _ kind: CaptureNote.Kind, connection: ConnectionState? = nil, side: Int = 0, bytes: Int? = nil, streamOffset: Int? = nil,
        error: String? = nil, detail: String, _ emit: (CaptureRecord) -> Void
    ) {
        emit(
            .note(
                makeNote(
                    kind, connection: connection, side: side, bytes: bytes, streamOffset: streamOffset, error: error, detail: detail,
                    at: decodingCurrent)))
    }

    // MARK: Pipeline

    /// Work for the decoding side, in capture order.
    enum Item {
        case framed(FramerEvent, ConnectionState, side: Int, timestamp: Int64, packet: Int)
        case note(CaptureNote)
        /// A SYN (or SYN-ACK) says who initiated.
        case syn(ConnectionState, side: Int, acknowledging: Bool)
    }

    /// The decoding thread: batches of items, at most `slots` of them in flight.
    final class Pipeline: @unchecked Sendable {
        let queue = DispatchQueue(label: "medledger-inspect.capture-decoding")
        let slots = DispatchSemaphore(value: 4)
        let output: (CaptureRecord) -> Void
        var batch: [Item] = []
        var batchBytes = 0

        init(output: @escaping (CaptureRecord) -> Void) {
            self.output = output
            batch.reserveCapacity(Self.batchItems)
        }

        static let batchItems = 1024
        static let batchBytes = 4 * 1024 * 1024
    }

    /// Carries the inspector to the decoding thread, which alone touches the decoding state.
    private struct Handoff: @unchecked Sendable {
        let inspector: CaptureInspector
        let items: [Item]
    }

    @inline(__always)
    private func dispatchFramed(_ event: FramerEvent, _ connection: ConnectionState, _ side: Int, _ emit: (CaptureRecord) -> Void) {
        dispatch(.framed(event, connection, side: side, timestamp: current.timestamp, packet: current.number), emit)
    }

    private func dispatch(_ item: Item, _ emit: (CaptureRecord) -> Void) {
        guard let pipeline else {
            handle(item, emit)
            return
        }
        if case .framed(.frame(_, _, let payload, _), _, _, _, _) = item { pipeline.batchBytes += payload.count }
        pipeline.batch.append(item)
        if pipeline.batch.count >= Pipeline.batchItems || pipeline.batchBytes >= Pipeline.batchBytes { submit(pipeline) }
    }

    private func submit(_ pipeline: Pipeline) {
        guard !pipeline.batch.isEmpty else { return }
        let handoff = Handoff(inspector: self, items: pipeline.batch)
        pipeline.batch = []
        pipeline.batch.reserveCapacity(Pipeline.batchItems)
        pipeline.batchBytes = 0
        pipeline.slots.wait()
        pipeline.queue.async {
            for item in handoff.items { handoff.inspector.handle(item, pipeline.output) }
            pipeline.slots.signal()
        }
    }

    /// The decoding side: frames, notes and handshakes, in capture order.
    private func handle(_ item: Item, _ emit: (CaptureRecord) -> Void) {
        switch item {
        case .framed(let event, let connection, let side, let timestamp, let packet):
            decodingCurrent = (timestamp, packet)
            framed(event, connection: connection, side: side, emit)
        case .note(let note):
            emit(.note(note))
        case .syn(let connection, let side, let acknowledging):
            if connection.initiatorSide == nil { connection.initiatorSide = acknowledging ? 1 - side : side }
        }
    }
}

/// One direction of a followed connection (a class: its reassembler and framer are mutated in
/// place while their callbacks update the rest of it).
final class DirectionState {
    var reassembler = TCPDirectionReassembler()
    var framer: StreamFramer?
    /// A key for this direction is known (from the key log).
    var hasKey = false
    /// Opens this direction's sealed frames (MedLedgerWire's, keyed once).
    var opener: FrameStreamOpener?
    /// Sealed frames seen so far in this direction: the next one's sequence, while known.
    var sealedCount: UInt64 = 0
    var sequenceKnown = true
    var skippedSinceSync = 0
    var helloNonce: Bytes32?
    var sentAuth = false
    var closed = false
    /// Sequence windows searched in vain since the count was lost.
    var failedSearches = 0
    /// The direction's SYN is in the capture: its stream is followed from the first byte.
    var sawStart = false
}

/// A followed TCP connection.
final class ConnectionState {
    let id: Int
    let a: CaptureEndpoint
    let b: CaptureEndpoint
    /// Whether the filter shows it.
    let shown: Bool
    let directions = [DirectionState(), DirectionState()]
    /// 0 when `a` initiated, 1 when `b` did.
    var initiatorSide: Int?
    var channel: Channel?
    var keys: KeyLogEntry?
    var established = false
    var refusedBy: Int?
    var messages = 0
    var bytes = 0
    var malformedFrames = 0

    init(id: Int, a: CaptureEndpoint, b: CaptureEndpoint, shown: Bool) {
        self.id = id
        self.a = a
        self.b = b
        self.shown = shown
    }

    func endpoint(_ side: Int) -> CaptureEndpoint { side == 0 ? a : b }

    /// Why a sealed frame on this connection could not be opened.
    var keyReason: String {
        if directions[0].helloNonce == nil, directions[1].helloNonce == nil { return "the handshake is not in the capture" }
        if keys != nil { return "the frame count was lost in a gap and not found again" }
        return "no key log entry for this connection"
    }

    /// How the handshake went, as far as the capture shows.
    var handshake: String {
        if established { return "established" }
        if refusedBy != nil { return "refused" }
        if directions[0].helloNonce != nil || directions[1].helloNonce != nil { return "incomplete" }
        return "not_captured"
    }

    var summary: CaptureStatistics.Connection {
        let initiator = initiatorSide ?? 0
        return CaptureStatistics.Connection(
            id: id, initiator: endpoint(initiator), responder: endpoint(1 - initiator), initiatorKnown: initiatorSide != nil,
            channel: channel?.name, handshake: handshake, decrypted: keys != nil, messages: messages, bytes: bytes,
            malformedFrames: malformedFrames, shown: shown)
    }
}
