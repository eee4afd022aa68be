/// The one error type MedLedgerCrypto throws.
///
/// Switch on ``code`` to decide what to do; show ``description`` to a person.
/// Errors that came out of OpenSSL carry its own reason text in ``openSSLReason``.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Code: Hashable, Sendable, CustomStringConvertible {
        /// A key had the wrong number of bytes for the algorithm.
        case invalidKeyLength
        /// A nonce had the wrong number of bytes for the algorithm.
        case invalidNonceLength
        /// Sealed data did not authenticate: its ciphertext, tag or associated data
        /// was changed, it is truncated, or the key or nonce is wrong.
        case authenticationFailed
        /// A peer's public key cannot be used (for X25519: a low-order point).
        case invalidPeerKey
        /// A requested output length, or a parameter, is out of range.
        case invalidLength
        /// A key file is malformed, has unsafe permissions, or the passphrase is wrong.
        case keyFile
        /// An OpenSSL call failed for a reason other than the above.
        case openSSL

        /// The case name, as written in Swift.
        public var description: String {
            switch self {
            case .invalidKeyLength: "invalidKeyLength"
            case .invalidNonceLength: "invalidNonceLength"
            case .authenticationFailed: "authenticationFailed"
            case .invalidPeerKey: "invalidPeerKey"
            case .invalidLength: "invalidLength"
            case .keyFile: "keyFile"
            case .openSSL: "openSSL"
            }
        }
    }

    /// What kind of failure this is.
    public let code: Code

    /// What was wrong, in words a person can act on.
    public let message: String

    /// OpenSSL's reason text (from `ERR_get_error` and `ERR_error_string_n`), when OpenSSL gave one.
    public let openSSLReason: String?

    /// The source file (`#fileID`) where the error was raised.
    public let file: String

    /// The line in ``file`` where the error was raised.
    public let line: Int

    init(code: Code, message: String, openSSLReason: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.openSSLReason = openSSLReason
        self.file = file
        self.line = line
    }

    /// The code, the message, OpenSSL's reason if any, and where the error was raised.
    public var description: String {
        var text = "CryptoError.\(code): \(message)"
        if let openSSLReason {
            text += " (OpenSSL: \(openSSLReason))"
        }
        text += " [\(file):\(line)]"
        return text
    }
}
