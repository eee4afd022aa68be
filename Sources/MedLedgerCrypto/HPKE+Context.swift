import Synchronization

extension HPKE {
    /// The sending side of one HPKE encapsulation (RFC 9180 section 5.2, `SetupBaseS` and the
    /// sender's encryption context): seals any number of messages to one recipient, in order.
    ///
    /// Send ``encapsulatedKey`` once, then every ciphertext in the order it was sealed: message
    /// *n* uses sequence number *n* and the recipient must open them in that same order. A context
    /// is a reference type, so copies share one sequence counter and no nonce is ever used twice;
    /// it is safe to use from several tasks at once (each seal takes the next sequence number).
    ///
    /// ```swift
    /// let sender = try HPKE.Sender(suite: .medLedger, recipient: custodianKey, info: info)
    /// let first = try sender.seal(aad: header, plaintext: part1)
    /// let second = try sender.seal(aad: header, plaintext: part2)
    /// // send sender.encapsulatedKey, first, second
    /// ```
    public final class Sender: Sendable {
        /// The ciphersuite this context uses.
        public let suite: Suite

        /// `enc`: the 32-byte encapsulated key. Send it to the recipient with the ciphertexts.
        public let encapsulatedKey: [UInt8]

        private let context: Context

        /// Encapsulates a fresh secret to `recipient` and derives the keys to seal with.
        ///
        /// - Parameters:
        ///   - suite: the ciphersuite; the recipient must use the same one.
        ///   - recipient: the recipient's public key.
        ///   - info: application context bound into the key schedule; the recipient must pass the
        ///     same bytes. May be empty.
        /// - Throws: ``CryptoError`` with code `.invalidPeerKey` if `recipient` is a low-order X25519
        ///   point, or `.openSSL` if OpenSSL fails.
        public convenience init(suite: Suite, recipient: X25519.PublicKey, info: [UInt8]) throws {
            try self.init(suite: suite, recipient: recipient, info: info, ephemeralKey: X25519.PrivateKey())
        }

        /// A sender whose ephemeral key is given, for reproducible tests only (known answers,
        /// vector files): reusing an ephemeral key with the same recipient and `info` reuses the
        /// AEAD key and nonces, so a real sender must always use ``init(suite:recipient:info:)``.
        package init(suite: Suite, recipient: X25519.PublicKey, info: [UInt8], ephemeralKey: X25519.PrivateKey) throws {
            let (sharedSecret, enc) = try HPKE.encapsulate(
                kem: suite.kem, recipient: recipient, ephemeralKey: ephemeralKey)
            self.suite = suite
            encapsulatedKey = enc
            context = Context(
                suite: suite, schedule: try HPKE.keySchedule(suite: suite, sharedSecret: sharedSecret, info: info))
        }

        /// Encrypts the next message (RFC 9180 `ContextS.Seal`) under the next sequence number.
        ///
        /// - Parameters:
        ///   - aad: associated data the recipient must pass unchanged; authenticated, not encrypted.
        ///   - plaintext: the message; may be empty.
        /// - Returns: the ciphertext: as long as `plaintext`, plus a 16-byte tag.
        /// - Throws: ``CryptoError`` with code `.invalidLength` once this context has sealed
        ///   2^96 - 1 messages (RFC 9180's `MessageLimitReachedError`), or `.openSSL` if OpenSSL fails.
        public func seal(aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
            try context.nextInSequence { nonce in
                try suite.aead.seal(key: context.key, nonce: nonce, aad: aad, plaintext: plaintext)
            }
        }

        /// A secret derived from this encapsulation for another use (RFC 9180 section 5.3,
        /// `Context.Export`); the recipient derives the same one.
        ///
        /// - Parameters:
        ///   - exporterContext: what the secret is for; different contexts give independent secrets.
        ///   - length: how many bytes, at most 8160 (255 times the hash length).
        /// - Throws: ``CryptoError`` with code `.invalidLength` if `length` is out of range.
        public func export(exporterContext: [UInt8], length: Int) throws -> SecureBytes {
            try context.export(exporterContext: exporterContext, length: length)
        }

        /// The sequence number the next ``seal(aad:plaintext:)`` will use: how many messages this
        /// context has sealed so far.
        public var sequenceNumber: UInt128 { context.sequenceNumber }

        /// The nonce that `sequenceNumber` gives, for the known-answer tests.
        package func nonce(sequenceNumber: UInt128) -> [UInt8] { context.nonce(sequenceNumber: sequenceNumber) }

        /// Moves the sequence counter, for tests of the message limit only.
        package func setSequenceNumber(_ value: UInt128) { context.setSequenceNumber(value) }
    }

    /// The receiving side of one HPKE encapsulation (RFC 9180 section 5.2, `SetupBaseR` and the
    /// recipient's encryption context): opens the sender's messages in the order they were sealed.
    ///
    /// A message that fails to open does not move the sequence number, so the next call still
    /// expects the same message. A context is a reference type, so copies share one counter.
    public final class Recipient: Sendable {
        /// The ciphersuite this context uses.
        public let suite: Suite

        /// `enc`: the encapsulated key this context was set up from.
        public let encapsulatedKey: [UInt8]

        private let context: Context

        /// Decapsulates `encapsulatedKey` with `privateKey` and derives the keys to open with.
        ///
        /// A wrong key, `enc` or `info` is not detected here: the keys derive, and the first
        /// ``open(aad:ciphertext:)`` fails with `.authenticationFailed`.
        ///
        /// - Parameters:
        ///   - suite: the ciphersuite the sender used.
        ///   - privateKey: the private key whose public key the sender sealed to.
        ///   - encapsulatedKey: the sender's 32-byte `enc`.
        ///   - info: the same application context the sender used.
        /// - Throws: ``CryptoError`` with code `.invalidPeerKey` if `encapsulatedKey` is a low-order
        ///   X25519 point, `.invalidKeyLength` if it is not 32 bytes, or `.openSSL` if OpenSSL fails.
        public init(suite: Suite, privateKey: X25519.PrivateKey, encapsulatedKey: [UInt8], info: [UInt8]) throws {
            let sharedSecret = try HPKE.decapsulate(
                kem: suite.kem, encapsulatedKey: encapsulatedKey, recipient: privateKey)
            self.suite = suite
            self.encapsulatedKey = encapsulatedKey
            context = Context(
                suite: suite, schedule: try HPKE.keySchedule(suite: suite, sharedSecret: sharedSecret, info: info))
        }

        /// Decrypts the next message (RFC 9180 `ContextR.Open`) under the next sequence number.
        ///
        /// - Parameters:
        ///   - aad: the associated data the sender sealed this message with.
        ///   - ciphertext: the sealed message, tag included.
        /// - Returns: the plaintext, only once it has authenticated; the sequence number then moves on.
        /// - Throws: ``CryptoError`` with code `.authenticationFailed` if the message was altered,
        ///   sealed to another key or with other `info` or `aad`, or arrives out of order (the
        ///   sequence number does not move); `.invalidLength` once 2^96 - 1 messages have been
        ///   opened; `.openSSL` if OpenSSL fails.
        public func open(aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
            try context.nextInSequence { nonce in
                try suite.aead.open(key: context.key, nonce: nonce, aad: aad, ciphertext: ciphertext)
            }
        }

        /// A secret derived from this encapsulation for another use (RFC 9180 section 5.3,
        /// `Context.Export`); equal to what the sender's ``Sender/export(exporterContext:length:)`` gives.
        ///
        /// - Parameters:
        ///   - exporterContext: what the secret is for; different contexts give independent secrets.
        ///   - length: how many bytes, at most 8160 (255 times the hash length).
        /// - Throws: ``CryptoError`` with code `.invalidLength` if `length` is out of range.
        public func export(exporterContext: [UInt8], length: Int) throws -> SecureBytes {
            try context.export(exporterContext: exporterContext, length: length)
        }

        /// The sequence number the next ``open(aad:ciphertext:)`` expects: how many messages this
        /// context has opened so far.
        public var sequenceNumber: UInt128 { context.sequenceNumber }

        /// Moves the sequence counter, for tests of the message limit only.
        package func setSequenceNumber(_ value: UInt128) { context.setSequenceNumber(value) }
    }
}

// MARK: - The shared encryption context

extension HPKE {
    /// What both sides keep after the key schedule: the AEAD key, the base nonce, the exporter
    /// secret and the sequence number (RFC 9180 section 5.2).
    final class Context: Sendable {
        let suite: Suite
        let key: SecureBytes
        let baseNonce: SecureBytes
        let exporterSecret: SecureBytes
        private let sequence = Mutex<UInt128>(0)

        init(suite: Suite, schedule: KeySchedule) {
            self.suite = suite
            key = schedule.key
            baseNonce = schedule.baseNonce
            exporterSecret = schedule.exporterSecret
        }

        /// The first sequence number that may not be used: `(1 << (8 * Nn)) - 1`.
        ///
        /// RFC 9180's `IncrementSeq` raises `MessageLimitReachedError` when `seq` has reached this
        /// value, after the operation that used it; that result is never returned, so refusing
        /// before using it is the same behaviour without the wasted work.
        var sequenceLimit: UInt128 { (1 << UInt128(8 * suite.aead.nonceByteCount)) - 1 }

        var sequenceNumber: UInt128 { sequence.withLock { $0 } }

        func setSequenceNumber(_ value: UInt128) {
            precondition(value <= sequenceLimit, "a sequence number above the limit cannot occur")
            sequence.withLock { $0 = value }
        }

        /// `ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn)`.
        func nonce(sequenceNumber: UInt128) -> [UInt8] {
            let count = suite.aead.nonceByteCount
            return baseNonce.withUnsafeBytes { base in
                (0..<count).map { index in
                    base[index] ^ UInt8(truncatingIfNeeded: sequenceNumber >> UInt128(8 * (count - 1 - index)))
                }
            }
        }

        /// Runs `operation` with the nonce of the current sequence number and moves the number on
        /// only if it succeeded, all under the lock so that no two calls share a nonce.
        func nextInSequence(_ operation: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
            try sequence.withLock { (sequenceNumber: inout UInt128) throws(CryptoError) -> [UInt8] in
                guard sequenceNumber < sequenceLimit else {
                    throw CryptoError(
                        code: .invalidLength,
                        message: "this HPKE context has reached RFC 9180's message limit (2^96 - 1 messages "
                            + "under one key and base nonce); set up a new Sender, with a new encapsulated key")
                }
                let result: [UInt8]
                do {
                    result = try operation(nonce(sequenceNumber: sequenceNumber))
                } catch let error as CryptoError {
                    throw error
                } catch {
                    throw CryptoError(code: .openSSL, message: "HPKE AEAD operation failed: \(error)")
                }
                sequenceNumber += 1
                return result
            }
        }

        /// `Context.Export(exporter_context, L) = LabeledExpand(exporter_secret, "sec", exporter_context, L)`.
        func export(exporterContext: [UInt8], length: Int) throws -> SecureBytes {
            let maximum = 255 * suite.kdf.hashByteCount
            guard length >= 0, length <= maximum else {
                throw CryptoError(
                    code: .invalidLength,
                    message: "an HPKE export with \(suite.kdf) is 0 to \(maximum) bytes long; \(length) was asked for")
            }
            return try HPKE.labeledExpand(
                suiteID: suite.suiteID, prk: exporterSecret, label: "sec", info: exporterContext, length: length)
        }
    }
}
