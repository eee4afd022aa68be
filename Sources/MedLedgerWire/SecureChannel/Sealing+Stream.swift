import MedLedgerCrypto

/// Opens one direction's sealed frames at any sequence with one keyed cipher context, for
/// tools that read many frames under the same key (`medledger-inspect pcap`). Same nonces, AAD
/// and errors as ``FrameOpener`` (Protocol/WIRE.md 4.3); the caller tracks the sequence.
package final class FrameStreamOpener {
    private let decryptor: AESGCMDecryptor

    package init(key: [UInt8]) throws(SealError) {
        guard key.count == AES256GCM.keyByteCount, let decryptor = try? AESGCMDecryptor(key: key) else { throw .invalidKey }
        self.decryptor = decryptor
    }

    /// Opens a sealed payload whose frame header is `header` (all 16 bytes), sealed at `sequence`.
    ///
    /// Errors are `decryption_failed` in the frame layer at offset 16.
    package func open(_ sealed: [UInt8], header: [UInt8], sequence: UInt64) throws(WireError) -> [UInt8] {
        // The nonce of sealNonce(sequence:), built on the stack: four zero bytes, then the sequence.
        var nonce = (UInt32(0), UInt32(truncatingIfNeeded: sequence >> 32).bigEndian, UInt32(truncatingIfNeeded: sequence).bigEndian)
        let opened = withUnsafeBytes(of: &nonce) { decryptor.open(nonce: $0, ciphertextAndTag: sealed, aad: header) }
        guard sequence < WireLimits.maxSealedFramesPerKey, let plaintext = opened else {
            throw WireError(
                .decryptionFailed, layer: .frame, offset: WireLimits.headerSize,
                "the sealed payload does not open with this direction's key at sequence \(sequence): tampered, replayed, reordered or the wrong key")
        }
        return plaintext
    }
}
