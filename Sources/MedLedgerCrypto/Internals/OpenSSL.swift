internal import COpenSSL

// The one file in MedLedger that calls OpenSSL.
//
// Each wrapper below names the C functions it maps to. Everything above this
// file works with typed Swift values and `CryptoError`; nothing else imports
// COpenSSL. Wrappers that cannot fail for any reason but a broken library or
// memory exhaustion trap with OpenSSL's reason instead of throwing, so callers
// are not burdened with errors they cannot handle.

/// Namespace for the thin wrappers over OpenSSL's C API.
enum OpenSSL {
    // MARK: Errors

    /// Drains this thread's OpenSSL error queue (`ERR_get_error`) and renders
    /// every entry with `ERR_error_string_n`, oldest first; nil if the queue was empty.
    static func drainErrorQueue() -> String? {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            reasons.append(String(decoding: text, as: UTF8.self))
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// Empties this thread's error queue (`ERR_clear_error`) so that a failure
    /// reports only what the current operation pushed.
    static func clearErrorQueue() {
        ERR_clear_error()
    }

    /// A `CryptoError` with code `.openSSL` for a failed C call, carrying the drained error queue.
    static func failure(_ function: String, file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError(
            code: .openSSL,
            message: "\(function) failed",
            openSSLReason: drainErrorQueue(),
            file: file,
            line: line
        )
    }

    /// Traps with OpenSSL's reason: for calls whose failure leaves no safe way on.
    static func fatal(_ function: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
        fatalError("\(function) failed: \(drainErrorQueue() ?? "no OpenSSL reason given")", file: file, line: line)
    }

    /// The largest length passed to one OpenSSL call taking an `int` length;
    /// longer inputs are fed in chunks of this size.
    static let maximumChunk = 1 << 30

    // MARK: SHA-256

    /// Length of a SHA-256 digest in bytes (`SHA256_DIGEST_LENGTH`).
    static let sha256DigestLength = Int(SHA256_DIGEST_LENGTH)

    /// SHA-256 fetched once: `EVP_MD_fetch(NULL, "SHA256", NULL)`. OpenSSL 3 looks a legacy
    /// `EVP_sha256()` up again, under a lock, on every digest; a fetched method is immutable and
    /// safe to share between threads. Never freed: it lives as long as the process.
    nonisolated(unsafe) static let sha256Method: OpaquePointer = {
        guard let method = EVP_MD_fetch(nil, "SHA256", nil) else { fatal("EVP_MD_fetch(SHA256)") }
        return method
    }()

    /// One-shot SHA-256: `EVP_Digest(data, count, out, &outLength, sha256Method, NULL)`.
    static func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        guard data.count <= maximumChunk else {
            // EVP_Digest takes a size_t, but keep very large inputs on the streaming path.
            let context = SHA256Context()
            context.update(data)
            return context.finalize()
        }
        return [UInt8](unsafeUninitializedCapacity: sha256DigestLength) { output, initialized in
            var outLength: UInt32 = 0
            guard EVP_Digest(data.baseAddress, data.count, output.baseAddress, &outLength, sha256Method, nil) == 1,
                Int(outLength) == sha256DigestLength
            else { fatal("EVP_Digest") }
            initialized = sha256DigestLength
        }
    }

    /// A SHA-256 `EVP_MD_CTX`: created with `EVP_MD_CTX_new` and `EVP_DigestInit_ex`,
    /// freed with `EVP_MD_CTX_free`.
    final class SHA256Context {
        private let context: OpaquePointer

        /// `EVP_MD_CTX_new`, then `EVP_DigestInit_ex(ctx, sha256Method, NULL)`.
        init() {
            guard let context = EVP_MD_CTX_new() else { OpenSSL.fatal("EVP_MD_CTX_new") }
            self.context = context
            guard EVP_DigestInit_ex(context, OpenSSL.sha256Method, nil) == 1 else { OpenSSL.fatal("EVP_DigestInit_ex") }
        }

        /// `EVP_MD_CTX_new`, then `EVP_MD_CTX_copy_ex(new, other)`: an independent copy of the state.
        init(copying other: SHA256Context) {
            guard let context = EVP_MD_CTX_new() else { OpenSSL.fatal("EVP_MD_CTX_new") }
            self.context = context
            guard EVP_MD_CTX_copy_ex(context, other.context) == 1 else { OpenSSL.fatal("EVP_MD_CTX_copy_ex") }
        }

        deinit {
            EVP_MD_CTX_free(context)
        }

        /// `EVP_DigestUpdate(ctx, data, count)`, in chunks of at most `maximumChunk` bytes.
        func update(_ data: UnsafeRawBufferPointer) {
            guard var base = data.baseAddress else { return }
            var remaining = data.count
            while remaining > 0 {
                let chunk = min(remaining, OpenSSL.maximumChunk)
                guard EVP_DigestUpdate(context, base, chunk) == 1 else { OpenSSL.fatal("EVP_DigestUpdate") }
                base += chunk
                remaining -= chunk
            }
        }

        /// `EVP_DigestFinal_ex(ctx, out, &outLength)`. The context is spent afterwards.
        func finalize() -> [UInt8] {
            [UInt8](unsafeUninitializedCapacity: OpenSSL.sha256DigestLength) { output, initialized in
                var outLength: UInt32 = 0
                guard EVP_DigestFinal_ex(context, output.baseAddress, &outLength) == 1,
                    Int(outLength) == OpenSSL.sha256DigestLength
                else { OpenSSL.fatal("EVP_DigestFinal_ex") }
                initialized = OpenSSL.sha256DigestLength
            }
        }
    }

    // MARK: AES-GCM

    /// Length of an AES-GCM authentication tag in bytes.
    static let gcmTagLength = 16

    /// `EVP_aes_128_gcm()` for 16-byte keys, `EVP_aes_256_gcm()` for 32-byte keys.
    private static func gcmCipher(keyLength: Int) -> OpaquePointer? {
        keyLength == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm()
    }

    /// AES-GCM encryption with a 96-bit nonce; returns ciphertext followed by the 16-byte tag.
    ///
    /// `EVP_CIPHER_CTX_new`, `EVP_EncryptInit_ex(ctx, EVP_aes_{128,256}_gcm(), NULL, key, nonce)`,
    /// `EVP_EncryptUpdate(ctx, NULL, &n, aad, aadLength)`, `EVP_EncryptUpdate(ctx, out, &n, in, inLength)`,
    /// `EVP_EncryptFinal_ex`, `EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag)`, `EVP_CIPHER_CTX_free`.
    /// The caller has checked that `key` is 16 or 32 bytes and `nonce` 12.
    static func aesGCMSeal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        precondition((key.count == 16 || key.count == 32) && nonce.count == 12, "caller validates key and nonce lengths")
        clearErrorQueue()
        guard let context = EVP_CIPHER_CTX_new() else { throw failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }

        guard EVP_EncryptInit_ex(context, gcmCipher(keyLength: key.count), nil, key, nonce) == 1 else {
            throw failure("EVP_EncryptInit_ex")
        }
        try cipherUpdate(context, output: nil, input: aad[...], function: "EVP_EncryptUpdate (AAD)", EVP_EncryptUpdate)

        return try [UInt8](unsafeUninitializedCapacity: plaintext.count + gcmTagLength) { output, initialized in
            let ciphertext = UnsafeMutableBufferPointer(rebasing: output[..<plaintext.count])
            try cipherUpdate(
                context, output: ciphertext, input: plaintext[...], function: "EVP_EncryptUpdate", EVP_EncryptUpdate)

            // GCM writes nothing at final; give it a block-sized scratch buffer anyway.
            var scratch = [UInt8](repeating: 0, count: 16)
            var written: Int32 = 0
            guard EVP_EncryptFinal_ex(context, &scratch, &written) == 1, written == 0 else {
                throw failure("EVP_EncryptFinal_ex")
            }
            let tag = UnsafeMutableBufferPointer(rebasing: output[plaintext.count...])
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(gcmTagLength), tag.baseAddress) == 1 else {
                throw failure("EVP_CIPHER_CTX_ctrl (EVP_CTRL_GCM_GET_TAG)")
            }
            initialized = plaintext.count + gcmTagLength
        }
    }

    /// AES-GCM decryption of ciphertext followed by its 16-byte tag.
    ///
    /// `EVP_CIPHER_CTX_new`, `EVP_DecryptInit_ex(ctx, EVP_aes_{128,256}_gcm(), NULL, key, nonce)`,
    /// `EVP_DecryptUpdate` (AAD, then ciphertext), `EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag)`,
    /// `EVP_DecryptFinal_ex` (which checks the tag), `EVP_CIPHER_CTX_free`.
    /// Returns nil when the tag does not verify; no plaintext is released then.
    /// The caller has checked the key and nonce lengths and that the input holds at least a tag.
    static func aesGCMOpen(
        key: [UInt8],
        nonce: [UInt8],
        ciphertextAndTag: [UInt8],
        aad: [UInt8]
    ) throws -> [UInt8]? {
        precondition((key.count == 16 || key.count == 32) && nonce.count == 12, "caller validates key and nonce lengths")
        precondition(ciphertextAndTag.count >= gcmTagLength, "caller validates the input holds a tag")
        clearErrorQueue()
        guard let context = EVP_CIPHER_CTX_new() else { throw failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }

        guard EVP_DecryptInit_ex(context, gcmCipher(keyLength: key.count), nil, key, nonce) == 1 else {
            throw failure("EVP_DecryptInit_ex")
        }
        try cipherUpdate(context, output: nil, input: aad[...], function: "EVP_DecryptUpdate (AAD)", EVP_DecryptUpdate)

        let ciphertextCount = ciphertextAndTag.count - gcmTagLength
        var tag = Array(ciphertextAndTag[ciphertextCount...])
        var authentic = false
        let plaintext = try [UInt8](unsafeUninitializedCapacity: ciphertextCount) { output, initialized in
            let input = ciphertextAndTag[..<ciphertextCount]
            try cipherUpdate(context, output: output, input: input, function: "EVP_DecryptUpdate", EVP_DecryptUpdate)
            initialized = ciphertextCount

            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(gcmTagLength), &tag) == 1 else {
                throw failure("EVP_CIPHER_CTX_ctrl (EVP_CTRL_GCM_SET_TAG)")
            }
            var scratch = [UInt8](repeating: 0, count: 16)
            var written: Int32 = 0
            authentic = EVP_DecryptFinal_ex(context, &scratch, &written) == 1
            if !authentic {
                // Do not let unauthenticated plaintext outlive this call.
                output.update(repeating: 0)
            }
        }
        // A failed tag check pushes nothing useful; make sure nothing stale lingers.
        clearErrorQueue()
        return authentic ? plaintext : nil
    }

    /// The signature shared by `EVP_EncryptUpdate` and `EVP_DecryptUpdate`.
    private typealias CipherUpdate = (
        OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int32>?, UnsafePointer<UInt8>?, Int32
    ) -> Int32

    /// Feeds `input` to `update` in `int`-sized chunks. With `output` nil the input is
    /// associated data; otherwise the transformed bytes fill `output` (same length as `input`).
    /// Empty input makes no call at all: OpenSSL 3's GCM treats a NULL input as "finalise".
    private static func cipherUpdate(
        _ context: OpaquePointer,
        output: UnsafeMutableBufferPointer<UInt8>?,
        input: ArraySlice<UInt8>,
        function: String,
        _ update: CipherUpdate
    ) throws {
        guard !input.isEmpty else { return }
        try input.withUnsafeBufferPointer { input in
            var offset = 0
            while offset < input.count {
                let chunk = min(input.count - offset, maximumChunk)
                var written: Int32 = 0
                let target = output.map { $0.baseAddress! + offset }
                guard update(context, target, &written, input.baseAddress! + offset, Int32(chunk)) == 1 else {
                    throw failure(function)
                }
                // GCM is a stream mode: every ciphertext byte comes out at once.
                guard target == nil || Int(written) == chunk else { throw failure(function) }
                offset += chunk
            }
        }
    }

    // MARK: Random

    /// Fills `buffer` from OpenSSL's CSPRNG with `RAND_bytes`, in `int`-sized chunks.
    /// Traps if the generator fails: continuing without randomness is never safe.
    static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
        guard var base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let chunk = min(remaining, maximumChunk)
            guard RAND_bytes(base, Int32(chunk)) == 1 else { fatal("RAND_bytes") }
            base += chunk
            remaining -= chunk
        }
    }

    // MARK: Ed25519 and X25519 (raw 32-byte keys)

    /// An `EVP_PKEY` made from raw key bytes, freed with `EVP_PKEY_free`.
    final class Key {
        let pointer: OpaquePointer

        /// `EVP_PKEY_new_raw_private_key(type, NULL, bytes, 32)`.
        init(privateKey bytes: UnsafeRawBufferPointer, type: Int32) throws {
            clearErrorQueue()
            guard
                let pointer = EVP_PKEY_new_raw_private_key(
                    type, nil, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
            else { throw OpenSSL.failure("EVP_PKEY_new_raw_private_key") }
            self.pointer = pointer
        }

        /// `EVP_PKEY_new_raw_public_key(type, NULL, bytes, 32)`.
        init(publicKey bytes: [UInt8], type: Int32) throws {
            clearErrorQueue()
            guard let pointer = EVP_PKEY_new_raw_public_key(type, nil, bytes, bytes.count) else {
                throw OpenSSL.failure("EVP_PKEY_new_raw_public_key")
            }
            self.pointer = pointer
        }

        deinit { EVP_PKEY_free(pointer) }

        /// `EVP_PKEY_get_raw_public_key(pkey, out, &length)`.
        func rawPublicKey() throws -> [UInt8] {
            var length = 32
            var out = [UInt8](repeating: 0, count: 32)
            guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1, length == 32 else {
                throw OpenSSL.failure("EVP_PKEY_get_raw_public_key")
            }
            return out
        }
    }

    static let ed25519Type = EVP_PKEY_ED25519
    static let x25519Type = EVP_PKEY_X25519

    /// Ed25519 (pure, RFC 8032): `EVP_MD_CTX_new`, `EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey)`,
    /// `EVP_DigestSign(ctx, sig, &64, message, length)`, `EVP_MD_CTX_free`.
    static func ed25519Sign(key: Key, message: UnsafeRawBufferPointer) throws -> [UInt8] {
        clearErrorQueue()
        guard let context = EVP_MD_CTX_new() else { throw failure("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key.pointer) == 1 else { throw failure("EVP_DigestSignInit") }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let base = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard EVP_DigestSign(context, &signature, &length, base, message.count) == 1, length == 64 else {
            throw failure("EVP_DigestSign")
        }
        return signature
    }

    /// `EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey)`, `EVP_DigestVerify(ctx, sig, 64, message, length)`.
    /// False for any signature that does not verify; the error queue is cleared either way.
    static func ed25519Verify(key: Key, signature: [UInt8], message: UnsafeRawBufferPointer) -> Bool {
        guard let context = EVP_MD_CTX_new() else { fatal("EVP_MD_CTX_new") }
        defer {
            EVP_MD_CTX_free(context)
            clearErrorQueue()
        }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else { return false }
        let base = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return EVP_DigestVerify(context, signature, signature.count, base, message.count) == 1
    }

    /// X25519 (RFC 7748): `EVP_PKEY_CTX_new(own, NULL)`, `EVP_PKEY_derive_init`,
    /// `EVP_PKEY_derive_set_peer(ctx, peer)`, `EVP_PKEY_derive(ctx, out, &32)`.
    /// OpenSSL refuses an all-zero result (a low-order peer key), which surfaces as a thrown error.
    static func x25519Derive(own: Key, peer: Key, into output: UnsafeMutableRawBufferPointer) throws {
        clearErrorQueue()
        guard let context = EVP_PKEY_CTX_new(own.pointer, nil) else { throw failure("EVP_PKEY_CTX_new") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_derive_init(context) == 1 else { throw failure("EVP_PKEY_derive_init") }
        guard EVP_PKEY_derive_set_peer(context, peer.pointer) == 1 else { throw failure("EVP_PKEY_derive_set_peer") }
        var length = output.count
        guard EVP_PKEY_derive(context, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1,
            length == 32
        else { throw failure("EVP_PKEY_derive") }
    }

    // MARK: HMAC, scrypt, memory

    /// HMAC-SHA256: `HMAC(EVP_sha256(), key, keyLength, data, dataLength, out, &outLength)`.
    static func hmacSHA256(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "HMAC key too long")
        return [UInt8](unsafeUninitializedCapacity: 32) { output, initialized in
            var length: UInt32 = 0
            // HMAC() treats a NULL key as "reuse the previous key": pass a valid pointer even when empty.
            let emptyKey: [UInt8] = [0]
            let keyPointer = key.count == 0 ? nil : key.baseAddress
            let result = emptyKey.withUnsafeBytes { empty in
                HMAC(
                    EVP_sha256(), keyPointer ?? empty.baseAddress, Int32(key.count),
                    data.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? empty.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    data.count, output.baseAddress, &length)
            }
            guard result != nil, length == 32 else { fatal("HMAC") }
            initialized = 32
        }
    }

    /// scrypt (RFC 7914): `EVP_PBE_scrypt(pass, passLength, salt, saltLength, N, r, p, maxmem, out, outLength)`.
    static func scrypt(
        passphrase: UnsafeRawBufferPointer, salt: [UInt8], n: UInt64, r: UInt64, p: UInt64,
        into output: UnsafeMutableRawBufferPointer
    ) throws {
        clearErrorQueue()
        // 128 * r * N bytes for V, plus room for B and XY; allow that explicitly.
        let maxMemory = 128 * r * n + 256 * r * p + 1 << 20
        let ok = EVP_PBE_scrypt(
            passphrase.baseAddress?.assumingMemoryBound(to: CChar.self), passphrase.count, salt, salt.count, n, r, p,
            maxMemory, output.baseAddress?.assumingMemoryBound(to: UInt8.self), output.count)
        guard ok == 1 else { throw failure("EVP_PBE_scrypt") }
    }

    /// Overwrites memory in a way the compiler cannot elide: `OPENSSL_cleanse(pointer, length)`.
    static func cleanse(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        OPENSSL_cleanse(base, buffer.count)
    }

    /// Constant-time comparison of equal-length buffers: `CRYPTO_memcmp(a, b, length) == 0`.
    static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0 else { return true }
        return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
    }
}

/// AES-256-GCM decryption under one key for many messages: the cipher context is keyed once and
/// only the nonce changes per message, so opening a stream of small frames costs the cipher
/// work and not a context's allocation, provider lookup and key schedule each time (what
/// `medledger-inspect pcap` needs to open a capture's frames at capture speed).
///
/// `EVP_CIPHER_CTX_new`, `EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, NULL)` once; per
/// message `EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce)`, `EVP_DecryptUpdate` (AAD, then
/// ciphertext), `EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag)`, `EVP_DecryptFinal_ex`;
/// `EVP_CIPHER_CTX_free` at the end. Not thread-safe: one per direction of a connection.
package final class AESGCMDecryptor {
    private let context: OpaquePointer

    /// - Throws: ``CryptoError`` when the key is not 32 bytes or OpenSSL cannot set up the context.
    package init(key: [UInt8]) throws {
        guard key.count == 32 else {
            throw CryptoError(code: .invalidKeyLength, message: "an AES-256-GCM key is 32 bytes; this one is \(key.count)")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nil) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw OpenSSL.failure("EVP_DecryptInit_ex")
        }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// The plaintext of `ciphertextAndTag` under `nonce` (12 bytes) and `aad`, or nil when it does
    /// not authenticate (or is shorter than its tag, or OpenSSL fails).
    package func open(nonce: UnsafeRawBufferPointer, ciphertextAndTag: [UInt8], aad: [UInt8]) -> [UInt8]? {
        let tagLength = OpenSSL.gcmTagLength
        guard nonce.count == 12, ciphertextAndTag.count >= tagLength,
            EVP_DecryptInit_ex(context, nil, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
        else { return nil }
        var written: Int32 = 0
        guard aad.withUnsafeBufferPointer({ EVP_DecryptUpdate(context, nil, &written, $0.baseAddress, Int32($0.count)) }) == 1 else {
            OpenSSL.clearErrorQueue()
            return nil
        }
        let count = ciphertextAndTag.count - tagLength
        var authentic = false
        let plaintext = ciphertextAndTag.withUnsafeBufferPointer { input -> [UInt8] in
            [UInt8](unsafeUninitializedCapacity: Swift.max(count, 1)) { output, initialized in
                initialized = 0
                var length: Int32 = 0
                if count > 0 {
                    guard EVP_DecryptUpdate(context, output.baseAddress, &length, input.baseAddress, Int32(count)) == 1 else { return }
                }
                // OpenSSL copies the tag in; it does not write through the pointer.
                let tag = UnsafeMutableRawPointer(mutating: input.baseAddress! + count)
                guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), tag) == 1 else { return }
                var scratch = (UInt64(0), UInt64(0))
                var final: Int32 = 0
                authentic = withUnsafeMutableBytes(of: &scratch) {
                    EVP_DecryptFinal_ex(context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &final) == 1
                }
                if authentic {
                    initialized = count
                } else {
                    // Unauthenticated plaintext never leaves this call.
                    output.update(repeating: 0)
                }
            }
        }
        if !authentic {
            OpenSSL.clearErrorQueue()
            return nil
        }
        return plaintext
    }
}
