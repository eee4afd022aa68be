import Dispatch
import MedLedgerWire

extension Connection {
    var hasPendingWrites: Bool { writeOffset < writeBuffer.count || !outbound.isEmpty }

    /// Queues `item` from any thread.
    func submit(_ item: OutboundItem) {
        queue.async { self.enqueue(item) }
    }

    /// Queues `item` by its class; a peer whose queue is full is closed (`queue_full`), gossip over
    /// its budget is dropped.
    func enqueue(_ item: OutboundItem) {
        guard phase == .established else { return }
        let wasIdle = !hasPendingWrites
        switch outbound.push(item) {
        case .queued:
            if wasIdle { lastWriteProgress = Self.now() }
            scheduleFlush()
        case .droppedGossip:
            tally.withLock { $0.droppedGossip += 1 }
        case .full:
            close(
                .local(
                    "queue_full", code: .tooSlow,
                    "\(outbound.frameCount) frames and \(outbound.byteCount) bytes queued (limits \(outbound.maxFrames) and \(outbound.maxBytes)): the peer does not keep up"
                ))
        }
    }

    /// Flushes after the blocks already queued have run, so that a burst of sends is written with
    /// few system calls.
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.async {
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Appends an already framed (plain or handshake-sealed) frame to the write buffer.
    func appendRaw(_ frame: Frame) {
        compactWriteBuffer()
        let bytes = frame.header.bytes
        writeBuffer.append(contentsOf: bytes)
        writeBuffer.append(contentsOf: frame.payload)
        tally.withLock {
            $0.countOut(frame.header.type, bytes: bytes.count + frame.payload.count, compressed: frame.header.flags.contains(.compressed))
        }
    }

    /// Seals `item` with the session's sending key: the header (with the final length) is the
    /// associated data.
    func seal(_ item: OutboundItem) throws(SealError) -> Frame {
        guard var current = session else { throw .invalidKey }
        let header = FrameHeader(
            version: current.info.protocolVersion, type: item.type,
            flags: item.compressed ? [.compressed, .sealed] : [.sealed],
            length: UInt32(item.body.count + WireLimits.sealTagSize))
        let sealed = try current.sealer.seal(item.body, header: header.bytes)
        session = current
        return Frame(header: header, payload: sealed)
    }

    private func compactWriteBuffer() {
        if writeOffset == writeBuffer.count {
            writeBuffer.removeAll(keepingCapacity: writeBuffer.capacity <= 4 * Self.writeHighWater)
            writeOffset = 0
        } else if writeOffset > 0 {
            writeBuffer.removeFirst(writeOffset)
            writeOffset = 0
        }
    }

    /// Seals queued items, highest class first, until the write buffer holds its high-water mark.
    private func fill() {
        guard phase == .established else { return }
        while writeBuffer.count - writeOffset < Self.writeHighWater, let item = outbound.pop() {
            do {
                appendRaw(try seal(item))
            } catch .nonceExhausted {
                close(.local(.nonceExhausted, "2^32 frames sealed under this connection's key; reconnect"))
                return
            } catch {
                logger.error("sealing failed; closing the connection", metadata: ["error": "\(error)"])
                close(.local(.normal, "internal error: \(error)"))
                return
            }
        }
    }

    /// Writes as much as the socket takes; waits for the write source when it is full.
    func flush() {
        while phase == .handshaking || phase == .established {
            fill()
            guard phase != .closed, writeOffset < writeBuffer.count else { break }
            let offset = writeOffset
            let result: Result<Int?, Syscall.Errno> = writeBuffer.withUnsafeBytes { buffer in
                do throws(Syscall.Errno) {
                    return .success(try Syscall.send(fd, UnsafeRawBufferPointer(rebasing: buffer[offset...])))
                } catch {
                    return .failure(error)
                }
            }
            let written: Int?
            switch result {
            case .success(let count): written = count
            case .failure(let error):
                close(.remote(error.name, "writing to the socket failed: \(error)"))
                return
            }
            guard let written else {
                resumeWriteSource()
                return
            }
            writeOffset += written
            lastWriteProgress = Self.now()
        }
        suspendWriteSource()
    }

    /// One attempt to write what is buffered, errors ignored (used for the farewell on close).
    func writeOnce() {
        guard writeOffset < writeBuffer.count else { return }
        let offset = writeOffset
        writeBuffer.withUnsafeBytes { buffer in
            _ = try? Syscall.send(fd, UnsafeRawBufferPointer(rebasing: buffer[offset...]))
        }
    }
}
