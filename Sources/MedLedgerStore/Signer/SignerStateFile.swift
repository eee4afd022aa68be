import MedLedgerWire

/// The file a validator keeps its signer state in (what it last signed), written before any
/// signature leaves so that a crash can never make it sign twice (Protocol/CONSENSUS.md).
///
/// Format: magic `MLSS`, `u16` version 1, `u32` length, the canonical signer state, CRC-32 of all
/// that. Written atomically (temporary file, fsync, rename, directory fsync): after a crash at any
/// point the file holds either the old state or the new one, never a mix.
public struct SignerStateFile: Sendable {
    public static let fileName = "signer-state"
    static let magic: [UInt8] = Array("MLSS".utf8)
    /// A signer state with its votes of one height (at most 64 of about 150 bytes) fits.
    static let maxPayload = 16_384

    public let path: String
    let fileSystem: any FileSystem

    public init(directory: String, fileSystem: any FileSystem = PosixFileSystem()) {
        path = Path.join(directory, Self.fileName)
        self.fileSystem = fileSystem
    }

    /// Makes `state` (canonical bytes) durable, replacing the previous one.
    public func save(_ state: [UInt8]) throws(StoreError) {
        precondition(state.count <= Self.maxPayload, "a signer state is small")
        var writer = ByteWriter()
        writer.writeRaw(Self.magic)
        writer.write(UInt16(1))
        writer.write(UInt32(state.count))
        writer.writeRaw(state)
        writer.write(Zlib.crc32(writer.bytes))
        try fileSystem.writeAtomically(writer.bytes, to: path)
    }

    /// The saved state, or nil if none was ever saved.
    ///
    /// - Throws: `corrupt` when the file exists but is damaged: a validator must not guess what it
    ///   signed, so the operator has to look (Protocol/CONSENSUS.md).
    public func load() throws(StoreError) -> [UInt8]? {
        guard fileSystem.exists(path) else { return nil }
        let bytes = try fileSystem.readAll(path)
        guard bytes.count >= 14, Array(bytes[0..<4]) == Self.magic, SegmentFormat.be16(bytes, 4) == 1 else {
            throw StoreError(.corrupt, "not a signer state file", path: path, offset: 0)
        }
        let length = Int(SegmentFormat.be32(bytes, 6))
        guard length <= Self.maxPayload, bytes.count == 10 + length + 4,
            SegmentFormat.be32(bytes, 10 + length) == Zlib.crc32(bytes[0..<(10 + length)])
        else {
            throw StoreError(.corrupt, "the signer state file is damaged (length or CRC)", path: path)
        }
        return Array(bytes[10..<(10 + length)])
    }
}
