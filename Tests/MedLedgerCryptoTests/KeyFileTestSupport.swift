import Foundation
import MedLedgerCrypto
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Shared by the key file tests: light scrypt parameters, fixed keys, scratch directories.
enum KeyFileTestSupport {
    /// 1 MiB, about 3 ms: only for tests. Real files use `Scrypt.Parameters.keyFile`.
    static let light = Scrypt.Parameters(n: 1 << 10, r: 8, p: 1)

    static let passphrase = SecureBytes(Array("correct horse battery staple".utf8))

    /// RFC 8032 TEST 1's seed and RFC 7748 Alice's scalar: fixed, published keys.
    static func ed25519Key() throws -> Ed25519.PrivateKey {
        try Ed25519.PrivateKey(seed: SecureBytes(bytes(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")))
    }

    static func x25519Key() throws -> X25519.PrivateKey {
        try X25519.PrivateKey(rawKey: SecureBytes(bytes(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
    }

    static func key(_ type: KeyFile.KeyType) throws -> KeyFile.PrivateKey {
        switch type {
        case .ed25519: .ed25519(try ed25519Key())
        case .x25519: .x25519(try x25519Key())
        }
    }

    /// The secret bytes a key file holds for `key`.
    static func secretHex(_ key: KeyFile.PrivateKey) -> String {
        switch key {
        case .ed25519(let key): key.seed.unprotectedBytes.map { String(format: "%02x", $0) }.joined()
        case .x25519(let key): key.rawKey.unprotectedBytes.map { String(format: "%02x", $0) }.joined()
        }
    }

    /// A fresh private directory, removed when `body` returns.
    static func withScratchDirectory<R>(_ body: (String) throws -> R) throws -> R {
        var template = Array((NSTemporaryDirectory() + "/medledger-keyfile-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        let path = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    /// The permission bits of `path` (without following a link).
    static func mode(_ path: String) -> mode_t {
        var status = stat()
        precondition(lstat(path, &status) == 0, "lstat \(path)")
        return status.st_mode & 0o7777
    }

    /// Writes `bytes` to a new file at `path` with `mode` (for files the tests build by hand).
    static func writeRaw(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, mode)
        precondition(descriptor >= 0, "create \(path)")
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        precondition(written == bytes.count)
        close(descriptor)
        precondition(chmod(path, mode) == 0)
    }

    static func contents(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: path) ?? Data())
    }

    /// The error `body` throws, which must be a CryptoError with code `.keyFile`.
    static func keyFileError(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) -> CryptoError? {
        do {
            try body()
            Issue.record("expected a .keyFile error; nothing was thrown", sourceLocation: sourceLocation)
            return nil
        } catch let error as CryptoError {
            #expect(error.code == .keyFile, "\(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("expected a CryptoError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}
