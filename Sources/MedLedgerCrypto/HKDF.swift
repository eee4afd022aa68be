/// HMAC-SHA256 (RFC 2104) over OpenSSL.
public enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key`.
    public static func authenticationCode(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        Array(key).withUnsafeBytes { key in Array(message).withUnsafeBytes { OpenSSL.hmacSHA256(key: key, data: $0) } }
    }
}

/// HKDF with SHA-256 (RFC 5869): extract and expand as separate steps, as HPKE needs them.
public enum HKDF {
    /// Largest output of one expand: 255 blocks of 32 bytes.
    public static let maximumOutputLength = 255 * 32

    /// `PRK = HMAC-SHA256(salt, IKM)`; an empty salt means 32 zero bytes, as RFC 5869 says.
    public static func extract(salt: some Collection<UInt8>, inputKeyMaterial ikm: some Collection<UInt8>) -> SecureBytes {
        let salt = salt.isEmpty ? [UInt8](repeating: 0, count: 32) : Array(salt)
        var prk = HMACSHA256.authenticationCode(key: salt, message: ikm)
        defer { prk.withUnsafeMutableBytes { OpenSSL.cleanse($0) } }
        return SecureBytes(prk)
    }

    /// `OKM = T(1) || T(2) || ...` truncated to `length`, with `T(i) = HMAC(PRK, T(i-1) || info || i)`.
    public static func expand(
        pseudorandomKey prk: SecureBytes, info: some Collection<UInt8>, length: Int
    ) throws -> SecureBytes {
        guard length >= 0, length <= maximumOutputLength else {
            throw CryptoError(
                code: .invalidLength, message: "HKDF-SHA256 can produce at most \(maximumOutputLength) bytes, not \(length)")
        }
        let info = Array(info)
        var output: [UInt8] = []
        output.reserveCapacity(length + 32)
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = prk.withUnsafeBytes { key in
                (previous + info + [counter]).withUnsafeBytes { OpenSSL.hmacSHA256(key: key, data: $0) }
            }
            output += previous
            counter &+= 1
        }
        defer {
            output.withUnsafeMutableBytes { OpenSSL.cleanse($0) }
            previous.withUnsafeMutableBytes { OpenSSL.cleanse($0) }
        }
        return SecureBytes(output.prefix(length))
    }

    /// Extract then expand.
    public static func deriveKey(
        inputKeyMaterial ikm: some Collection<UInt8>, salt: some Collection<UInt8>, info: some Collection<UInt8>,
        length: Int
    ) throws -> SecureBytes {
        try expand(pseudorandomKey: extract(salt: salt, inputKeyMaterial: ikm), info: info, length: length)
    }
}

/// scrypt (RFC 7914), for keys that people carry under a passphrase.
public enum Scrypt {
    /// Parameters: cost `n` (a power of two), block size `r`, parallelism `p`.
    public struct Parameters: Hashable, Sendable {
        public var n: UInt64
        public var r: UInt32
        public var p: UInt32

        public init(n: UInt64, r: UInt32, p: UInt32) {
            self.n = n
            self.r = r
            self.p = p
        }

        /// The default for key files: N = 2^17, r = 8, p = 1 (128 MiB, about half a second here).
        public static let keyFile = Parameters(n: 1 << 17, r: 8, p: 1)
    }

    /// Derives `length` bytes from `passphrase` and `salt`.
    public static func deriveKey(
        passphrase: SecureBytes, salt: [UInt8], parameters: Parameters, length: Int
    ) throws -> SecureBytes {
        guard parameters.n > 1, parameters.n & (parameters.n - 1) == 0, parameters.r > 0, parameters.p > 0 else {
            throw CryptoError(code: .invalidLength, message: "scrypt needs N a power of two above 1 and r, p at least 1")
        }
        // scrypt needs 128 * r * N bytes; refuse what would overflow or exceed 4 GiB rather than trap.
        let (blocks, overflow) = (128 * UInt64(parameters.r)).multipliedReportingOverflow(by: parameters.n)
        guard !overflow, blocks <= 4 << 30, UInt64(parameters.r) * UInt64(parameters.p) < 1 << 30 else {
            throw CryptoError(
                code: .invalidLength,
                message: "scrypt with N=\(parameters.n), r=\(parameters.r), p=\(parameters.p) needs more than 4 GiB; use smaller parameters")
        }
        return try SecureBytes(count: length) { output in
            try passphrase.withUnsafeBytes {
                try OpenSSL.scrypt(
                    passphrase: $0, salt: salt, n: parameters.n, r: UInt64(parameters.r), p: UInt64(parameters.p),
                    into: output)
            }
        }
    }
}
