/// What one direction of a TCP connection delivers, in stream order.
enum StreamPiece {
    /// Bytes of the stream.
    case data(ArraySlice<UInt8>)
    /// Bytes the capture does not hold (lost, or cut by the snapshot length); the stream goes on
    /// after them.
    case gap(Int)
}

/// Limits on what reassembly holds back (out-of-order segments waiting for the bytes before them).
public struct ReassemblyLimits: Sendable, Hashable {
    /// Per direction of a connection.
    public var perDirection: Int
    /// Over all connections together.
    public var total: Int

    public init(perDirection: Int = 4 * 1024 * 1024, total: Int = 64 * 1024 * 1024) {
        self.perDirection = perDirection
        self.total = total
    }
}

/// Puts one direction of a TCP connection back in order: sequence numbers wrap around,
/// retransmitted and overlapping bytes are delivered once, segments that arrive early wait (within
/// ``ReassemblyLimits``) for the ones before them. When they cannot wait any longer (a limit, or
/// the end of the capture) the missing bytes are delivered as a gap.
struct TCPDirectionReassembler {
    struct Pending {
        var sequence: UInt32
        var bytes: [UInt8]
        var missing: Int
        var length: Int { bytes.count + missing }
    }

    /// The sequence number of the next byte to deliver; nil until the first segment.
    private(set) var nextSequence: UInt32?
    /// A SYN was seen, so the stream is followed from its first byte.
    private(set) var sawStart = false
    private var pending: [Pending] = []
    private(set) var pendingBytes = 0
    var retransmittedSegments = 0
    var outOfOrderSegments = 0

    /// Relative position of `sequence` from the next expected byte (wrap-around safe within 2 GiB).
    @inline(__always)
    private func distance(_ sequence: UInt32, from next: UInt32) -> Int { Int(Int32(bitPattern: sequence &- next)) }

    /// Takes one segment; `deliver` gets what is now in order. `budget` is what the whole
    /// capture may still hold back; it is charged for what this direction keeps.
    mutating func add(
        _ segment: TCPSegment, limits: ReassemblyLimits, budget: inout Int, deliver: (StreamPiece) -> Void
    ) {
        var sequence = segment.sequence
        if segment.syn {
            sequence &+= 1
            if nextSequence == nil {
                nextSequence = sequence
                sawStart = true
            }
        }
        let length = segment.payload.count + segment.missing
        guard length > 0 else { return }
        guard let next = nextSequence else {
            // The capture starts in the middle of the stream: take it from here.
            nextSequence = sequence &+ UInt32(truncatingIfNeeded: length)
            emit(segment.payload, missing: segment.missing, trim: 0, deliver)
            return
        }
        let offset = distance(sequence, from: next)
        if offset + length <= 0 {
            retransmittedSegments += 1
            return
        }
        if offset <= 0 {
            emit(segment.payload, missing: segment.missing, trim: -offset, deliver)
            nextSequence = next &+ UInt32(truncatingIfNeeded: length + offset)
            drain(budget: &budget, deliver)
            return
        }
        // Early: keep it until the bytes before it come, if there is room.
        outOfOrderSegments += 1
        if pendingBytes + length > limits.perDirection || segment.payload.count > budget {
            flush(budget: &budget, deliver)
            // Nothing waits now: give up on the bytes before this segment.
            if let resumed = nextSequence, distance(sequence, from: resumed) > 0 {
                deliver(.gap(distance(sequence, from: resumed)))
                nextSequence = sequence
            }
            add(segment, limits: limits, budget: &budget, deliver: deliver)
            return
        }
        let entry = Pending(sequence: sequence, bytes: Array(segment.payload), missing: segment.missing)
        let index = pending.firstIndex { distance($0.sequence, from: next) > offset } ?? pending.endIndex
        pending.insert(entry, at: index)
        pendingBytes += length
        budget -= entry.bytes.count
    }

    /// Delivers every waiting segment in order, with gaps for what never came (end of the
    /// capture, a connection reset, or the limits).
    mutating func flush(budget: inout Int, _ deliver: (StreamPiece) -> Void) {
        while let first = pending.first, let next = nextSequence {
            let offset = distance(first.sequence, from: next)
            if offset > 0 {
                deliver(.gap(offset))
                nextSequence = first.sequence
            }
            drain(budget: &budget, deliver)
        }
    }

    private mutating func drain(budget: inout Int, _ deliver: (StreamPiece) -> Void) {
        while let first = pending.first, let next = nextSequence {
            let offset = distance(first.sequence, from: next)
            guard offset <= 0 else { return }
            pending.removeFirst()
            pendingBytes -= first.length
            budget += first.bytes.count
            if offset + first.length <= 0 {
                retransmittedSegments += 1
                continue
            }
            emit(first.bytes[...], missing: first.missing, trim: -offset, deliver)
            nextSequence = next &+ UInt32(truncatingIfNeeded: first.length + offset)
        }
    }

    /// Delivers a segment's bytes after the first `trim` (already delivered), then its uncaptured
    /// tail as a gap.
    private func emit(_ payload: ArraySlice<UInt8>, missing: Int, trim: Int, _ deliver: (StreamPiece) -> Void) {
        if trim < payload.count {
            deliver(.data(payload.dropFirst(trim)))
            if missing > 0 { deliver(.gap(missing)) }
        } else {
            let gap = missing - (trim - payload.count)
            if gap > 0 { deliver(.gap(gap)) }
        }
    }
}
