/// Returns `count` bytes from OpenSSL's cryptographically secure generator (`RAND_bytes`).
///
/// Use it for keys, nonces and anything else an attacker must not guess.
/// The process stops if the generator fails, since no safe fallback exists.
///
/// - Precondition: `count` is not negative.
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    precondition(count >= 0, "secureRandomBytes needs a non-negative count, got \(count)")
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        OpenSSL.randomBytes(UnsafeMutableRawBufferPointer(buffer))
        initialized = count
    }
}
