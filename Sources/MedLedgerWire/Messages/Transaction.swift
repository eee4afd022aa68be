import MedLedgerCrypto

/// The envelope of every ledger transaction (Protocol/WIRE.md 5.1).
///
/// The ledger defines `txType` codes and the canonical bytes of each body; the wire layer carries
/// them opaquely.
public struct Transaction: Hashable, Sendable, WireCodable {
    public var txType: UInt16
    /// Ed25519 public key of the signer.
    public var signer: Bytes32
    /// Per-signer; gaps allowed, reuse rejected by the ledger.
    public var nonce: UInt64
    public var body: [UInt8]
    /// Over tag `medledger/tx/v1`, the chain id and ``signedBytes``.
    public var signature: Bytes64

    public init(txType: UInt16, signer: Bytes32, nonce: UInt64, body: [UInt8], signature: Bytes64) {
        self.txType = txType
        self.signer = signer
        self.nonce = nonce
        self.body = body
        self.signature = signature
    }

    /// The canonical bytes the signature covers: every field before it.
    public var signedBytes: [UInt8] {
        var writer = ByteWriter()
        encodeSignedFields(to: &writer)
        return writer.bytes
    }

    private func encodeSignedFields(to writer: inout ByteWriter) {
        writer.write(txType)
        writer.write(signer)
        writer.write(nonce)
        writer.writeLengthPrefixed(body)
    }

    /// SHA-256 of the whole canonical transaction, signature included.
    public var id: Bytes32 { Bytes32(SHA256.hash(canonicalBytes).bytes)! }

    public func encode(to writer: inout ByteWriter) {
        encodeSignedFields(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        txType = try reader.readU16("tx_type")
        signer = try Bytes32(from: &reader)
        nonce = try reader.readU64("nonce")
        body = try reader.readLengthPrefixed(max: WireLimits.transactionBodyMax, "transaction body")
        signature = try Bytes64(from: &reader)
    }
}
