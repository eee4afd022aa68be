import MedLedgerCrypto

/// One direction of an established channel (Protocol/WIRE.md 4.2).
public enum Direction: String, Sendable, CaseIterable {
    /// Initiator to responder.
    case initiatorToResponder = "i2r"
    /// Responder to initiator.
    case responderToInitiator = "r2i"
}

/// Why a frame could not be sealed.
public enum SealError: Error, Hashable, Sendable, CustomStringConvertible {
    /// 2^32 frames were sealed under this key; the connection must be re-established.
    case nonceExhausted
    /// The key is not 32 bytes.
    case invalidKey
    /// The cipher failed although key and nonce were valid (an OpenSSL failure, such as memory
    /// exhaustion): close the connection, never send what was not sealed.
    case cipherFailed(String)

    public var description: String {
        switch self {
        case .nonceExhausted: "2^32 frames sealed under one key: close the connection (nonce_exhausted) and reconnect"
        case .invalidKey: "a channel key must be 32 bytes"
        case .cipherFailed(let detail): "AES-256-GCM sealing failed: \(detail)"
        }
    }
}

/// The AES-GCM nonce of a sealed frame: four zero bytes, then the sequence as big-endian `u64`.
public func sealNonce(sequence: UInt64) -> [UInt8] {
    var writer = ByteWriter(reservingCapacity: 12)
    writer.write(UInt32(0))
    writer.write(sequence)
    return writer.bytes
}

/// Seals the frames of one direction with AES-256-GCM under counter nonces; refuses to go past the
/// per-key frame limit.
public struct FrameSealer: Sendable {
    private let key: [UInt8]
    /// The sequence number the next sealed frame gets.
    public private(set) var nextSequence: UInt64

    public init(key: [UInt8], nextSequence: UInt64 = 0) throws(SealError) {
        guard key.count == AES256GCM.keyByteCount else { throw .invalidKey }
        self.key = key
        self.nextSequence = nextSequence
    }

    /// Seals `plaintext` with `header` (all 16 bytes) as associated data.
    public mutating func seal(_ plaintext: [UInt8], header: [UInt8]) throws(SealError) -> [UInt8] {
        guard nextSequence < WireLimits.maxSealedFramesPerKey else { throw .nonceExhausted }
        let nonce = sealNonce(sequence: nextSequence)
        do {
            let sealed = try AES256GCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: header)
            nextSequence += 1
            return sealed
        } catch {
            // Key and nonce lengths are checked above, so this is OpenSSL failing (seen once, while
            // a connection was closing under load): a closed connection, not a crashed node.
            throw .cipherFailed("\(error)")
        }
    }
}

/// Opens the frames of one direction. A frame that fails to open leaves the opener where it was;
/// the connection must then be closed, since nothing after it could open either.
public struct FrameOpener: Sendable {
    private let key: [UInt8]
    /// The sequence number the next frame must have been sealed with.
    public private(set) var nextSequence: UInt64

    public init(key: [UInt8], nextSequence: UInt64 = 0) throws(SealError) {
        guard key.count == AES256GCM.keyByteCount else { throw .invalidKey }
        self.key = key
        self.nextSequence = nextSequence
    }

    /// Opens a sealed payload whose frame header is `header` (all 16 bytes).
    ///
    /// Errors are `decryption_failed` in the frame layer at offset 16.
    public mutating func open(_ sealed: [UInt8], header: [UInt8]) throws(WireError) -> [UInt8] {
        guard nextSequence < WireLimits.maxSealedFramesPerKey else {
            throw WireError(.decryptionFailed, layer: .frame, offset: WireLimits.headerSize, "2^32 frames already opened under this key")
        }
        let nonce = sealNonce(sequence: nextSequence)
        do {
            let plaintext = try AES256GCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: header)
            nextSequence += 1
            return plaintext
        } catch {
            throw WireError(
                .decryptionFailed, layer: .frame, offset: WireLimits.headerSize,
                "the sealed payload does not open with this direction's key at sequence \(nextSequence): tampered, replayed, reordered or the wrong key")
        }
    }
}
