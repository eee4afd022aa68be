/// `RECORD_BLOB` (peer channel): a piece of a record's ciphertext, pushed by its custodian to the
/// other holders or sent to a holder that asked for it (Protocol/CLIENT.md section 5.1).
///
/// The same struct is the body of the client port's `store_record` (StoreChunk, CLIENT.md section
/// 5.2). `offset + chunk.count <= total <= 64 MiB`, checked when decoding.
public struct RecordBlob: Hashable, Sendable, WireCodable {
    public var record: Bytes32
    /// Where this chunk starts in the ciphertext.
    public var offset: UInt64
    /// The ciphertext's whole length: 1 byte to ``WireLimits/recordCiphertextMax``.
    public var total: UInt64
    /// At most ``WireLimits/recordChunkMax`` bytes.
    public var chunk: [UInt8]

    public init(record: Bytes32, offset: UInt64, total: UInt64, chunk: [UInt8]) {
        self.record = record
        self.offset = offset
        self.total = total
        self.chunk = chunk
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(record)
        writer.write(offset)
        writer.write(total)
        writer.writeLengthPrefixed(chunk)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        record = try Bytes32(from: &reader)
        offset = try reader.readU64("offset")
        let totalStart = reader.position
        total = try reader.readU64("total")
        guard total >= 1, total <= UInt64(WireLimits.recordCiphertextMax) else {
            throw reader.error(.valueOutOfRange, at: totalStart, "a record's ciphertext is 1 byte to 64 MiB, not \(total)")
        }
        let chunkStart = reader.position
        chunk = try reader.readLengthPrefixed(max: WireLimits.recordChunkMax, "chunk")
        guard offset <= total, UInt64(chunk.count) <= total - offset else {
            throw reader.error(.valueOutOfRange, at: chunkStart, "the chunk ends past the ciphertext's total of \(total) bytes")
        }
    }

    /// Whether this chunk is the last.
    public var isLast: Bool { offset + UInt64(chunk.count) == total }
}

/// `RECORD_BLOB_REQUEST` (peer channel): a holder that lacks a record's ciphertext asks its peers
/// for it; a peer that holds it answers with `RECORD_BLOB` chunks, one that does not stays silent.
public struct RecordBlobRequest: Hashable, Sendable, WireCodable {
    public var record: Bytes32

    public init(record: Bytes32) { self.record = record }

    public func encode(to writer: inout ByteWriter) { writer.write(record) }

    public init(from reader: inout ByteReader) throws(WireError) { record = try Bytes32(from: &reader) }
}
