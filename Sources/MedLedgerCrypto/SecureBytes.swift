/// Secret bytes (private keys, shared secrets, derived keys) that are wiped with `OPENSSL_cleanse`
/// when the last reference goes away, and never printed.
///
/// Immutable once made, so it can be shared across threads.
public final class SecureBytes: @unchecked Sendable, CustomStringConvertible {
    private let buffer: UnsafeMutableRawBufferPointer

    /// Copies `bytes` into wiped-on-release storage. The caller should wipe its own copy.
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        buffer = .allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
        var index = 0
        for byte in bytes {
            buffer[index] = byte
            index += 1
        }
        count = bytes.count
    }

    /// `count` bytes filled by `body`, never copied anywhere else.
    init(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        buffer = .allocate(byteCount: Swift.max(count, 1), alignment: 16)
        self.count = count
        // If `body` throws, the object is fully initialised, so `deinit` runs and wipes and frees
        // the buffer: freeing it here as well would free it twice.
        try body(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// Fresh random secret bytes.
    public static func random(count: Int) -> SecureBytes {
        SecureBytes(count: count) { OpenSSL.randomBytes($0) }
    }

    deinit {
        OpenSSL.cleanse(buffer)
        buffer.deallocate()
    }

    /// Number of bytes.
    public let count: Int

    /// Lends the bytes for the duration of `body`. Do not let them escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// A copy as an ordinary array: for the few places that must hand a key to another API
    /// (a key file, a key log the operator enabled). Wipe it when done if you can.
    public var unprotectedBytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Constant-time equality.
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in OpenSSL.constantTimeEqual(a, b) } }
    }

    /// Never the contents.
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
}
