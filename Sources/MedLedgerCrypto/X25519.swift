/// X25519 key agreement (RFC 7748) over OpenSSL: for the channel handshake and HPKE.
public enum X25519 {
    /// A public key: 32 bytes (the u-coordinate).
    public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
        public static let byteCount = 32
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws {
            guard bytes.count == Self.byteCount else {
                throw CryptoError(code: .invalidKeyLength, message: "an X25519 public key is 32 bytes; this one is \(bytes.count)")
            }
            self.bytes = bytes
        }

        public var description: String { "X25519.PublicKey(\(lowercaseHex(bytes)))" }
    }

    /// A private key: 32 bytes in wiped-on-release memory.
    public struct PrivateKey: Sendable, CustomStringConvertible {
        public let rawKey: SecureBytes
        public let publicKey: PublicKey
        private let key: KeyBox

        /// A new random key.
        public init() {
            try! self.init(rawKey: SecureBytes.random(count: 32))
        }

        /// The key with these 32 bytes (clamped by X25519 itself, as RFC 7748 says).
        public init(rawKey: SecureBytes) throws {
            guard rawKey.count == 32 else {
                throw CryptoError(code: .invalidKeyLength, message: "an X25519 private key is 32 bytes; this one is \(rawKey.count)")
            }
            self.rawKey = rawKey
            let key = try rawKey.withUnsafeBytes { try OpenSSL.Key(privateKey: $0, type: OpenSSL.x25519Type) }
            self.key = KeyBox(key)
            publicKey = try PublicKey(bytes: key.rawPublicKey())
        }

        /// The shared secret with `peer`.
        ///
        /// - Throws: ``CryptoError`` with code `.invalidPeerKey` when the result would be all zeros
        ///   (the peer sent a low-order point), which RFC 7748 section 6.1 says to refuse.
        public func sharedSecret(with peer: PublicKey) throws -> SecureBytes {
            let peerKey: OpenSSL.Key
            do {
                peerKey = try OpenSSL.Key(publicKey: peer.bytes, type: OpenSSL.x25519Type)
            } catch {
                throw CryptoError(code: .invalidPeerKey, message: "the peer's X25519 key is not usable")
            }
            do {
                return try SecureBytes(count: 32) { try OpenSSL.x25519Derive(own: key.key, peer: peerKey, into: $0) }
            } catch let error as CryptoError {
                throw CryptoError(
                    code: .invalidPeerKey,
                    message: "X25519 with the peer's key gives the all-zero secret (a low-order point): refused",
                    openSSLReason: error.openSSLReason)
            }
        }

        public var description: String { "X25519.PrivateKey(public: \(lowercaseHex(publicKey.bytes)))" }
    }
}
