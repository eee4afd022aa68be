import MedLedgerWire

/// The sparse index of Protocol/LOG.md section 4: every `interval`-th height to where its record starts.
public struct SegmentIndex: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var height: UInt64
        public var segmentStart: UInt64
        public var offset: UInt64
    }

    public static let fileName = "index.mlidx"
    static let magic: [UInt8] = Array("MLIX".utf8)

    public var interval: UInt16
    public private(set) var entries: [Entry] = []
    /// The durable frontier when the index was written: every record before this point had been
    /// fsynced. Recovery treats damage after it as a torn write and damage before it as corruption.
    public var frontier = Entry(height: 0, segmentStart: 1, offset: UInt64(SegmentFormat.segmentHeaderSize))

    public init(interval: UInt16) {
        precondition(interval > 0, "an index interval is at least 1")
        self.interval = interval
    }

    /// Whether `height` gets an entry.
    public func isIndexed(_ height: UInt64) -> Bool { (height - 1) % UInt64(interval) == 0 }

    mutating func note(height: UInt64, segmentStart: UInt64, offset: UInt64) {
        guard isIndexed(height) else { return }
        if let last = entries.last, last.height >= height { return }
        entries.append(Entry(height: height, segmentStart: segmentStart, offset: offset))
    }

    /// Drops the entries for heights above `height` (after a truncation).
    mutating func truncate(after height: UInt64) {
        entries.removeAll { $0.height > height }
    }

    /// The entry at or below `height`.
    public func entry(atOrBelow height: UInt64) -> Entry? {
        guard !entries.isEmpty, height >= entries[0].height else { return nil }
        let slot = Int((height - entries[0].height) / UInt64(interval))
        return entries[Swift.min(slot, entries.count - 1)]
    }

    public var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 20 + entries.count * 24)
        writer.writeRaw(Self.magic)
        writer.write(UInt16(1))
        writer.write(interval)
        writer.write(frontier.height)
        writer.write(frontier.segmentStart)
        writer.write(frontier.offset)
        writer.write(UInt64(entries.count))
        for entry in entries {
            writer.write(entry.height)
            writer.write(entry.segmentStart)
            writer.write(entry.offset)
        }
        writer.write(Zlib.crc32(writer.bytes))
        return writer.bytes
    }

    /// Parses an index file; nil if it is damaged in any way (it is then rebuilt).
    public static func decode(_ bytes: [UInt8]) -> SegmentIndex? {
        let fixed = 8 + 24 + 8
        guard bytes.count >= fixed + 4, Array(bytes[0..<4]) == magic, SegmentFormat.be16(bytes, 4) == 1 else { return nil }
        let interval = SegmentFormat.be16(bytes, 6)
        let count = SegmentFormat.be64(bytes, 32)
        guard interval > 0, count <= UInt64(bytes.count / 24), bytes.count == fixed + Int(count) * 24 + 4,
            SegmentFormat.be32(bytes, bytes.count - 4) == Zlib.crc32(bytes[0..<(bytes.count - 4)])
        else { return nil }
        var index = SegmentIndex(interval: interval)
        index.frontier = Entry(
            height: SegmentFormat.be64(bytes, 8), segmentStart: SegmentFormat.be64(bytes, 16), offset: SegmentFormat.be64(bytes, 24))
        for i in 0..<Int(count) {
            let base = fixed + i * 24
            let entry = Entry(
                height: SegmentFormat.be64(bytes, base), segmentStart: SegmentFormat.be64(bytes, base + 8),
                offset: SegmentFormat.be64(bytes, base + 16))
            guard index.isIndexed(entry.height), entry.height == 1 + UInt64(i) * UInt64(interval) else { return nil }
            index.entries.append(entry)
        }
        return index
    }
}
