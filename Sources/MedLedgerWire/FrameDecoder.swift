/// Cuts a byte stream into frames, whatever the chunks it arrives in: one byte at a time, or many
/// frames at once.
///
/// A node uses it in strict mode: the first bad header is an error and the connection is dropped.
/// The inspector uses ``Mode/resynchronizing``: it scans for the next valid header (magic, CRC and
/// every header rule) and counts the bytes it skipped, so a capture that starts mid-stream or
/// has gaps can still be read.
///
/// The payload is not opened or decoded here; a frame's length is checked against its limit from
/// the header alone, before anything is buffered for it.
public struct FrameDecoder: Sendable {
    public enum Mode: Sendable {
        /// Any header error is thrown, and the decoder stays failed.
        case strict
        /// Header errors are skipped over by scanning for the next valid header.
        case resynchronizing
    }

    public let mode: Mode
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: WireError?
    private var pendingSkip = 0
    /// Bytes consumed by frames and skips so far (the stream offset of the buffer's start).
    public private(set) var streamOffset = 0
    /// Bytes skipped while resynchronising.
    public private(set) var skippedBytes = 0

    public init(mode: Mode = .strict) {
        self.mode = mode
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds received bytes.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// A frame found by the decoder, with where it starts in the stream.
    public struct Located: Sendable, Hashable {
        public var frame: Frame
        /// Offset of the frame's first byte in the whole stream.
        public var streamOffset: Int
        /// Bytes skipped right before this frame while resynchronising.
        public var skippedBefore: Int
    }

    /// The next complete frame, or nil until more bytes arrive.
    ///
    /// In strict mode, a header error is thrown with its offset counted from the frame's start,
    /// and every later call throws it again.
    public mutating func next() throws(WireError) -> Frame? {
        try nextLocated()?.frame
    }

    /// Like ``next()``, with the frame's position in the stream.
    public mutating func nextLocated() throws(WireError) -> Located? {
        if let failure { throw failure }
        while true {
            if mode == .resynchronizing {
                // Skip to the next candidate magic, keeping a partial magic at the end.
                skip(findMagic() - start)
            }
            guard buffer.count - start >= WireLimits.headerSize else { return nil }
            let header: FrameHeader
            do {
                header = try FrameHeader.parse(buffer[start..<start + WireLimits.headerSize])
            } catch {
                guard mode == .resynchronizing else {
                    failure = error
                    throw error
                }
                // Not a real header: step past this magic and look again.
                skip(1)
                continue
            }
            let total = WireLimits.headerSize + Int(header.length)
            guard buffer.count - start >= total else { return nil }
            let payload = Array(buffer[start + WireLimits.headerSize..<start + total])
            let located = Located(
                frame: Frame(header: header, payload: payload), streamOffset: streamOffset,
                skippedBefore: pendingSkip)
            pendingSkip = 0
            consume(total)
            return located
        }
    }

    private mutating func skip(_ count: Int) {
        pendingSkip += count
        skippedBytes += count
        consume(count)
    }

    private mutating func consume(_ count: Int) {
        start += count
        streamOffset += count
    }

    /// Index of the first position at or after `start` where the magic begins, or where a partial
    /// magic at the end of the buffer might begin.
    private mutating func findMagic() -> Int {
        let magic = FrameHeader.magic
        var index = start
        while index < buffer.count {
            let left = buffer.count - index
            let compare = Swift.min(left, magic.count)
            if buffer[index..<index + compare].elementsEqual(magic[0..<compare]) { return index }
            index += 1
        }
        return index
    }
}
