import MedLedgerLedger
import MedLedgerWire

/// The state snapshot file of Protocol/LOG.md section 10: a header naming the block the state
/// follows, then the state's committed entries and context, zlib-compressed, under one CRC-32.
public enum SnapshotFormat {
    public static let magic: [UInt8] = Array("MLSN".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 132
    /// The default largest stored or inflated payload: 1 GiB.
    public static let defaultMaxPayloadBytes = 1 << 30
    /// The hard ceiling of the payload (zlib's lengths are 32-bit): 2 GiB - 1.
    public static let payloadCeiling = Int(Int32.max)
    public static let maxKeyBytes = 256
    public static let maxValueBytes = 1 << 20
    /// A chain's fetch-request window is at most 10000 blocks (Protocol/LEDGER.md section 2).
    public static let maxRecentBlockHashes = 10_000

    public enum Codec: UInt8, Sendable {
        case stored = 0
        case zlib = 1
    }

    /// `snapshot-<20-digit height>.mlsnap`.
    public static func fileName(height: UInt64) -> String {
        let digits = String(height)
        return "snapshot-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".mlsnap"
    }

    /// The height in a snapshot file name, or nil if the name is not a snapshot's.
    public static func height(ofSnapshotNamed name: String) -> UInt64? {
        guard name.hasPrefix("snapshot-"), name.hasSuffix(".mlsnap"), name.utf8.count == 9 + 20 + 7 else { return nil }
        let digits = name.dropFirst(9).prefix(20)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// What the header says.
    public struct Header: Hashable, Sendable {
        public var codec: Codec
        /// The height of the last block applied to the state.
        public var height: UInt64
        /// That block's hash (zeros at height 0).
        public var blockHash: Bytes32
        /// The state's root: that block's `state_root`.
        public var stateRoot: Bytes32
        /// The chain's genesis hash (Protocol/LEDGER.md section 2).
        public var genesisHash: Bytes32
        public var storedLength: UInt64
        public var inflatedLength: UInt64
        public var crc: UInt32
    }

    // MARK: Writing

    /// The snapshot file of `state`: header, then its payload, compressed when that is smaller.
    ///
    /// - Throws: `invalidArgument` if the payload would be larger than `maxPayloadBytes`.
    public static func encode(
        _ state: LedgerState, compressionLevel: Int32 = 6, maxPayloadBytes: Int = defaultMaxPayloadBytes
    )
        throws(StoreError) -> [UInt8]
    {
        var state = state
        let stateRoot = state.stateRoot
        let limit = Swift.min(maxPayloadBytes, payloadCeiling)

        var payload = ByteWriter(reservingCapacity: 64 * state.tree.count + 32 * state.recentBlockHashes.count + 32)
        payload.write(state.lastBlockTime)
        payload.writeList(state.recentBlockHashes)
        payload.write(UInt64(state.tree.count))
        for (key, value) in state.tree {
            guard key.count <= maxKeyBytes, value.count <= maxValueBytes else {
                throw StoreError(
                    .invalidArgument, "state entry \(Hex.encode(key)) is too large for a snapshot", height: state.height
                )
            }
            payload.writeLengthPrefixed(key)
            payload.writeLengthPrefixed(value)
            guard payload.count <= limit else {
                throw StoreError(
                    .invalidArgument, "the state is over the snapshot limit of \(limit) bytes", height: state.height)
            }
        }
        let inflated = payload.bytes
        var codec = Codec.stored
        var stored = inflated
        if compressionLevel > 0 {
            let compressed = Zlib.deflate(inflated, level: compressionLevel)
            if compressed.count < inflated.count {
                codec = .zlib
                stored = compressed
            }
        }

        var writer = ByteWriter(reservingCapacity: headerSize + stored.count)
        writer.writeRaw(magic)
        writer.write(version)
        writer.write(codec.rawValue)
        writer.write(UInt8(0))
        writer.write(state.height)
        writer.write(state.lastBlockHash)
        writer.write(stateRoot)
        writer.write(state.genesis.hash)
        writer.write(UInt64(stored.count))
        writer.write(UInt64(inflated.count))
        let crc = Zlib.crc32(stored, continuing: Zlib.crc32(writer.bytes))
        writer.write(crc)
        writer.writeRaw(stored)
        return writer.bytes
    }

    // MARK: Reading

    /// Checks the fixed header fields; the CRC is checked by ``decode(_:genesis:path:maxPayloadBytes:)``.
    public static func parseHeader(_ bytes: ArraySlice<UInt8>, path: String) throws(StoreError) -> Header {
        func wrong(_ why: String) -> StoreError { StoreError(.wrongFormat, why, path: path, offset: 0) }
        guard bytes.count >= headerSize else {
            throw StoreError(.corrupt, "the file is cut short (\(bytes.count) bytes)", path: path)
        }
        let b = Array(bytes.prefix(headerSize))
        guard Array(b[0..<4]) == magic else { throw wrong("not a MedLedger snapshot (no MLSN magic)") }
        guard be(b, 4, 2) == UInt64(version) else {
            throw wrong("snapshot format version \(be(b, 4, 2)); this node reads version \(version)")
        }
        guard let codec = Codec(rawValue: b[6]), b[7] == 0 else {
            throw StoreError(.corrupt, "unknown codec \(b[6]) or reserved byte \(b[7])", path: path, offset: 6)
        }
        return Header(
            codec: codec, height: be(b, 8, 8), blockHash: Bytes32(b[16..<48])!, stateRoot: Bytes32(b[48..<80])!,
            genesisHash: Bytes32(b[80..<112])!, storedLength: be(b, 112, 8), inflatedLength: be(b, 120, 8),
            crc: UInt32(be(b, 128, 4)))
    }

    /// Checks a whole snapshot file and rebuilds the state it holds, verifying the state's root
    /// against the header's (Protocol/LOG.md section 10.3).
    ///
    /// - Throws: `wrongFormat` for another format, version or chain; `corrupt` for anything
    ///   else that is not exactly what a writer produces, or a state that does not restore.
    public static func decode(
        _ bytes: [UInt8], genesis: Genesis, path: String, maxPayloadBytes: Int = defaultMaxPayloadBytes
    )
        throws(StoreError) -> (header: Header, state: LedgerState)
    {
        let header = try parseHeader(bytes[...], path: path)
        let limit = UInt64(Swift.min(maxPayloadBytes, payloadCeiling))
        func corrupt(_ why: String, offset: UInt64? = nil) -> StoreError {
            StoreError(.corrupt, why, path: path, offset: offset, height: header.height)
        }
        guard header.storedLength <= limit, header.inflatedLength <= limit else {
            throw corrupt(
                "the payload declares \(header.storedLength) stored, \(header.inflatedLength) inflated bytes; the limit is \(limit)"
            )
        }
        guard UInt64(bytes.count) == UInt64(headerSize) + header.storedLength else {
            throw corrupt(
                "the file is \(bytes.count) bytes; the header declares \(UInt64(headerSize) + header.storedLength)")
        }
        let stored = bytes[headerSize...]
        guard Zlib.crc32(stored, continuing: Zlib.crc32(bytes[0..<128])) == header.crc else {
            throw corrupt("the CRC does not match", offset: 128)
        }
        guard header.genesisHash == genesis.hash else {
            throw StoreError(
                .wrongFormat,
                "the snapshot is of the chain with genesis \(header.genesisHash.hex), not \(genesis.hash.hex)",
                path: path,
                offset: 80, height: header.height)
        }
        let payload: [UInt8]
        switch header.codec {
        case .stored:
            guard header.inflatedLength == header.storedLength else {
                throw corrupt("a stored payload's lengths differ")
            }
            payload = Array(stored)
        case .zlib:
            switch Zlib.inflate(stored, expectedLength: Int(header.inflatedLength)) {
            case .inflated(let inflated): payload = inflated
            case let failure:
                throw corrupt(
                    "the payload does not inflate to its declared length: \(failure)", offset: UInt64(headerSize))
            }
        }

        var reader = ByteReader(payload)
        let lastBlockTime: UInt64
        let recentBlockHashes: [Bytes32]
        var entries: [(key: [UInt8], value: [UInt8])] = []
        do {
            lastBlockTime = try reader.readU64("last_block_time")
            recentBlockHashes = try reader.readList(max: maxRecentBlockHashes, "recent_block_hashes")
            let count = try reader.readU64("entry count")
            // Each entry takes at least its two length prefixes: bound the count before reserving.
            guard count <= UInt64(reader.remaining / 8) else {
                throw reader.error(
                    .countExceedsLimit, at: reader.position - 8,
                    "\(count) entries cannot fit in \(reader.remaining) bytes")
            }
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let key = try reader.readLengthPrefixed(max: maxKeyBytes, "key")
                let value = try reader.readLengthPrefixed(max: maxValueBytes, "value")
                entries.append((key, value))
            }
            try reader.expectEnd("snapshot payload")
        } catch {
            throw corrupt("the payload does not decode: \(error)")
        }

        do {
            let state = try LedgerState(
                restoring: entries, genesis: genesis, height: header.height, lastBlockHash: header.blockHash,
                lastBlockTime: lastBlockTime, recentBlockHashes: recentBlockHashes, stateRoot: header.stateRoot)
            return (header, state)
        } catch {
            throw corrupt("the state does not restore: \(error)")
        }
    }

    /// The big-endian unsigned integer of `count` bytes at `offset`.
    static func be(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> UInt64 {
        bytes[offset..<(offset + count)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
