import MedLedgerWire

/// The byte formats of Protocol/LOG.md: segment headers, record headers, file names.
public enum SegmentFormat {
    public static let segmentMagic: [UInt8] = Array("MLSG".utf8)
    public static let recordMagic: [UInt8] = Array("MLRC".utf8)
    public static let version: UInt16 = 1
    public static let segmentHeaderSize = 96
    public static let recordHeaderSize = 60
    /// Largest stored or inflated record.
    public static let maxRecordBytes = 32 * 1024 * 1024

    public enum Codec: UInt8, Sendable {
        case stored = 0
        case zlib = 1
    }

    /// `segment-<20-digit start height>.mlseg`.
    public static func segmentName(startHeight: UInt64) -> String {
        let digits = String(startHeight)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".mlseg"
    }

    /// The start height in a segment file name, or nil if the name is not a segment's.
    public static func startHeight(ofSegmentNamed name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".mlseg"), name.utf8.count == 8 + 20 + 6 else { return nil }
        return UInt64(name.dropFirst(8).prefix(20))
    }

    // MARK: Segment header

    public static func segmentHeader(startHeight: UInt64, chainID: String) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: segmentHeaderSize)
        writer.writeRaw(segmentMagic)
        writer.write(version)
        writer.write(UInt16(0))
        writer.write(startHeight)
        let id = Array(chainID.utf8)
        writer.write(UInt8(id.count))
        writer.writeRaw(id + [UInt8](repeating: 0, count: 64 - id.count))
        writer.writeRaw([UInt8](repeating: 0, count: 11))
        writer.write(Zlib.crc32(writer.bytes))
        return writer.bytes
    }

    /// Checks a segment header; returns its start height.
    public static func parseSegmentHeader(_ bytes: [UInt8], chainID: String, path: String) throws(StoreError) -> UInt64 {
        func wrong(_ why: String) -> StoreError { StoreError(.wrongFormat, why, path: path, offset: 0) }
        guard bytes.count == segmentHeaderSize else { throw wrong("the segment header is cut short (\(bytes.count) of 96 bytes)") }
        guard Array(bytes[0..<4]) == segmentMagic else { throw wrong("not a MedLedger segment (no MLSG magic)") }
        let crc = be32(bytes, 92)
        guard crc == Zlib.crc32(bytes[0..<92]) else { throw StoreError(.corrupt, "the segment header's CRC does not match", path: path, offset: 92) }
        guard be16(bytes, 4) == version else { throw wrong("segment format version \(be16(bytes, 4)); this node reads version \(version)") }
        let idLength = Int(bytes[16])
        guard (1...64).contains(idLength), bytes[(17 + idLength)..<92].allSatisfy({ $0 == 0 }), bytes[6..<8].allSatisfy({ $0 == 0 }) else {
            throw wrong("malformed segment header")
        }
        let id = String(decoding: bytes[17..<(17 + idLength)], as: UTF8.self)
        guard id == chainID else { throw wrong("the segment belongs to chain \(id), not \(chainID)") }
        return be64(bytes, 8)
    }

    // MARK: Record header

    public struct RecordHeader: Hashable, Sendable {
        public var codec: Codec
        public var height: UInt64
        public var storedLength: UInt32
        public var inflatedLength: UInt32
        public var previousHash: Bytes32
        public var crc: UInt32

        public var totalSize: UInt64 { UInt64(recordHeaderSize) + UInt64(storedLength) }
    }

    /// The 56 header bytes the CRC starts with (everything before the CRC).
    static func recordHeaderPrefix(codec: Codec, height: UInt64, stored: UInt32, inflated: UInt32, previousHash: Bytes32) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: recordHeaderSize)
        writer.writeRaw(recordMagic)
        writer.write(codec.rawValue)
        writer.writeRaw([0, 0, 0])
        writer.write(height)
        writer.write(stored)
        writer.write(inflated)
        writer.write(previousHash)
        return writer.bytes
    }

    /// A whole record: header and stored bytes, compressed when that pays.
    public static func encodeRecord(_ block: CommittedBlock, compressionLevel: Int32) -> (bytes: [UInt8], height: UInt64) {
        let canonical = block.canonicalBytes
        var codec = Codec.stored
        var stored = canonical
        if compressionLevel != 0 {
            let deflated = Zlib.deflate(canonical, level: compressionLevel)
            if deflated.count < canonical.count {
                codec = .zlib
                stored = deflated
            }
        }
        let height = block.block.header.height
        var bytes = recordHeaderPrefix(
            codec: codec, height: height, stored: UInt32(stored.count), inflated: UInt32(canonical.count),
            previousHash: block.block.header.previousHash)
        let crc = Zlib.crc32(stored, continuing: Zlib.crc32(bytes))
        bytes += [UInt8(crc >> 24), UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc)]
        bytes += stored
        return (bytes, height)
    }

    /// Parses a record header (without checking the CRC, which needs the stored bytes).
    public static func parseRecordHeader(_ bytes: [UInt8], path: String, offset: UInt64) throws(StoreError) -> RecordHeader {
        guard bytes.count == recordHeaderSize, Array(bytes[0..<4]) == recordMagic else {
            throw StoreError(.corrupt, "no record header (MLRC) here", path: path, offset: offset)
        }
        guard let codec = Codec(rawValue: bytes[4]), bytes[5..<8].allSatisfy({ $0 == 0 }) else {
            throw StoreError(.corrupt, "unknown record codec \(bytes[4])", path: path, offset: offset)
        }
        let header = RecordHeader(
            codec: codec, height: be64(bytes, 8), storedLength: be32(bytes, 16), inflatedLength: be32(bytes, 20),
            previousHash: Bytes32(bytes[24..<56])!, crc: be32(bytes, 56))
        guard Int(header.storedLength) <= maxRecordBytes, Int(header.inflatedLength) <= maxRecordBytes,
            codec == .zlib || header.storedLength == header.inflatedLength
        else {
            throw StoreError(.corrupt, "record lengths out of bounds", path: path, offset: offset, height: header.height)
        }
        return header
    }

    /// Whether the CRC covers this header and these stored bytes.
    public static func checksumMatches(_ header: RecordHeader, headerBytes: [UInt8], stored: [UInt8]) -> Bool {
        Zlib.crc32(stored, continuing: Zlib.crc32(headerBytes[0..<56])) == header.crc
    }

    /// The block a record holds: inflated (if compressed) and decoded strictly.
    public static func decodeRecord(_ header: RecordHeader, stored: [UInt8], path: String, offset: UInt64) throws(StoreError) -> CommittedBlock {
        var canonical = stored
        if header.codec == .zlib {
            guard case .inflated(let bytes) = Zlib.inflate(stored[...], expectedLength: Int(header.inflatedLength)) else {
                throw StoreError(.corrupt, "the record does not inflate to its \(header.inflatedLength) bytes", path: path, offset: offset, height: header.height)
            }
            canonical = bytes
        }
        do {
            return try CommittedBlock(canonicalBytes: canonical)
        } catch {
            throw StoreError(.corrupt, "the record is not a canonical block: \(error)", path: path, offset: offset, height: header.height)
        }
    }

    static func be16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 { b[i..<i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
    static func be64(_ b: [UInt8], _ i: Int) -> UInt64 { b[i..<i + 8].reduce(0) { $0 << 8 | UInt64($1) } }
}
