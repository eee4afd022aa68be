import Synchronization
/// Ed25519 signatures (RFC 8032, pure variant) over OpenSSL.
///
/// Signing is only possible through a ``SigningDomain``: ``PrivateKey/signature(for:chainID:message:)``
/// signs `tag || chain id || bytes`, so nothing is ever signed as raw bytes by accident.
public enum Ed25519 {
    /// A public key: 32 bytes.
    public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
        public static let byteCount = 32
        /// The 32 encoded bytes.
        public let bytes: [UInt8]

        /// Wraps 32 bytes; throws for any other length. Whether the bytes are a valid point is
        /// found out when a signature is verified (an invalid key verifies nothing).
        public init(bytes: [UInt8]) throws {
            guard bytes.count == Self.byteCount else {
                throw CryptoError(
                    code: .invalidKeyLength, message: "an Ed25519 public key is 32 bytes; this one is \(bytes.count)")
            }
            self.bytes = bytes
        }

        public var description: String { "Ed25519.PublicKey(\(lowercaseHex(bytes)))" }

        /// Whether `signature` signs `message` under `domain` and `chainID`.
        ///
        /// - Parameter cache: where successes are remembered (``VerificationCache``); nil checks
        ///   the signature whatever was seen before (benchmarks).
        public func isValidSignature(
            _ signature: Signature, for domain: SigningDomain, chainID: String, message: some Collection<UInt8>,
            cache: VerificationCache? = .shared
        ) -> Bool {
            let input = domain.signingInput(chainID: chainID, message: message)
            guard let cache else { return isValidRawSignature(signature, for: input) }
            let entry = VerificationCache.entry(key: bytes, signature: signature.bytes, message: input)
            if cache.contains(entry) { return true }
            guard isValidRawSignature(signature, for: input) else { return false }
            cache.insert(entry)
            return true
        }

        /// Verifies raw bytes: only for the RFC 8032 known-answer tests and the batch verifier.
        package func isValidRawSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
            ed25519Verifications.add(1, ordering: .relaxed)
            guard let key = try? OpenSSL.Key(publicKey: bytes, type: OpenSSL.ed25519Type) else { return false }
            return message.withUnsafeBytes { OpenSSL.ed25519Verify(key: key, signature: signature.bytes, message: $0) }
        }
    }

    /// A signature: 64 bytes.
    public struct Signature: Hashable, Sendable {
        public static let byteCount = 64
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws {
            guard bytes.count == Self.byteCount else {
                throw CryptoError(
                    code: .invalidKeyLength, message: "an Ed25519 signature is 64 bytes; this one is \(bytes.count)")
            }
            self.bytes = bytes
        }
    }

    /// A private key: the 32-byte seed of RFC 8032, kept in wiped-on-release memory.
    public struct PrivateKey: Sendable, CustomStringConvertible {
        /// The seed.
        public let seed: SecureBytes
        /// The matching public key.
        public let publicKey: PublicKey
        private let key: KeyBox

        /// A new random key.
        public init() {
            try! self.init(seed: SecureBytes.random(count: 32))
        }

        /// The key with this 32-byte seed.
        public init(seed: SecureBytes) throws {
            guard seed.count == 32 else {
                throw CryptoError(code: .invalidKeyLength, message: "an Ed25519 seed is 32 bytes; this one is \(seed.count)")
            }
            self.seed = seed
            let key = try seed.withUnsafeBytes { try OpenSSL.Key(privateKey: $0, type: OpenSSL.ed25519Type) }
            self.key = KeyBox(key)
            self.publicKey = try PublicKey(bytes: key.rawPublicKey())
        }

        /// Signs `message` for `domain` on chain `chainID`.
        public func signature(for domain: SigningDomain, chainID: String, message: some Collection<UInt8>) -> Signature {
            rawSignature(for: domain.signingInput(chainID: chainID, message: message))
        }

        /// Signs raw bytes: only for the RFC 8032 known-answer tests.
        package func rawSignature(for message: [UInt8]) -> Signature {
            let bytes = message.withUnsafeBytes { message in
                // Signing with a valid key cannot fail but for memory exhaustion.
                try! OpenSSL.ed25519Sign(key: key.key, message: message)
            }
            return try! Signature(bytes: bytes)
        }

        /// Never the seed.
        public var description: String { "Ed25519.PrivateKey(public: \(lowercaseHex(publicKey.bytes)))" }
    }
}

/// Holds an OpenSSL key object. OpenSSL keys are safe to use from several threads at once once made.
final class KeyBox: @unchecked Sendable {
    let key: OpenSSL.Key
    init(_ key: OpenSSL.Key) { self.key = key }
}

/// Ed25519 verifications run by this process (each a real check; cache hits are not counted).
private let ed25519Verifications = Atomic<UInt64>(0)

extension Ed25519 {
    /// How many Ed25519 signatures this process has verified (a ``VerificationCache`` hit is not a
    /// verification): for metrics and the cluster benchmark's checks-per-transaction figure.
    public static var verificationCount: UInt64 { ed25519Verifications.load(ordering: .relaxed) }
}
