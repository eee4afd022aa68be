/// A decoding failure: what rule was broken, in which layer, and at which byte.
///
/// The codes and their names are stable (Protocol/WIRE.md section 7): logs, metrics, the inspector's
/// JSON and the rejection vectors all use them, and `DISCONNECT` carries the numbers.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that was broken.
    public enum Code: UInt16, Sendable, CaseIterable {
        case truncated = 1
        case badMagic = 2
        case headerChecksumMismatch = 3
        case unsupportedVersion = 4
        case unknownMessageType = 5
        case unknownFlags = 6
        case reservedNotZero = 7
        case frameTooLarge = 8
        case sealedPayloadTooShort = 9
        case inflatedTooLarge = 10
        case decompressionFailed = 11
        case inflatedLengthMismatch = 12
        case trailingBytes = 13
        case lengthExceedsLimit = 14
        case countExceedsLimit = 15
        case invalidBool = 16
        case invalidOptionalTag = 17
        case unknownEnum = 18
        case invalidUTF8 = 19
        case invalidChainID = 20
        case valueOutOfRange = 21
        case nonCanonical = 22
        case decryptionFailed = 23

        /// The stable snake-case name used in logs, JSON and vectors.
        public var name: String {
            switch self {
            case .truncated: "truncated"
            case .badMagic: "bad_magic"
            case .headerChecksumMismatch: "header_checksum_mismatch"
            case .unsupportedVersion: "unsupported_version"
            case .unknownMessageType: "unknown_message_type"
            case .unknownFlags: "unknown_flags"
            case .reservedNotZero: "reserved_not_zero"
            case .frameTooLarge: "frame_too_large"
            case .sealedPayloadTooShort: "sealed_payload_too_short"
            case .inflatedTooLarge: "inflated_too_large"
            case .decompressionFailed: "decompression_failed"
            case .inflatedLengthMismatch: "inflated_length_mismatch"
            case .trailingBytes: "trailing_bytes"
            case .lengthExceedsLimit: "length_exceeds_limit"
            case .countExceedsLimit: "count_exceeds_limit"
            case .invalidBool: "invalid_bool"
            case .invalidOptionalTag: "invalid_optional_tag"
            case .unknownEnum: "unknown_enum"
            case .invalidUTF8: "invalid_utf8"
            case .invalidChainID: "invalid_chain_id"
            case .valueOutOfRange: "value_out_of_range"
            case .nonCanonical: "non_canonical"
            case .decryptionFailed: "decryption_failed"
            }
        }

        /// Looks a code up by its stable name.
        public init?(name: String) {
            guard let code = Code.allCases.first(where: { $0.name == name }) else { return nil }
            self = code
        }
    }

    /// Where the offset counts from.
    public enum Layer: String, Sendable {
        /// From the first byte of the frame header.
        case frame
        /// From the first byte of the (opened, inflated) message payload.
        case message
    }

    /// The broken rule.
    public var code: Code
    /// Which layer found it.
    public var layer: Layer
    /// The first byte of the field that broke the rule, counted as ``layer`` says.
    public var offset: Int
    /// A sentence for people: what was found and what was expected.
    public var detail: String

    public init(_ code: Code, layer: Layer, offset: Int, _ detail: String) {
        self.code = code
        self.layer = layer
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        "\(code.name) at \(layer) offset \(offset): \(detail)"
    }

    /// The same error seen from an enclosing layer, with its offset moved by `shift` bytes.
    func relocated(to layer: Layer, shift: Int) -> WireError {
        WireError(code, layer: layer, offset: offset + shift, detail)
    }
}

/// Why a connection is closed, carried in `DISCONNECT.code` (Protocol/WIRE.md section 7).
///
/// Decoding failures use the ``WireError/Code`` numbers (1 to 99); the reasons here start at 100.
public enum DisconnectReason: UInt16, Sendable, CaseIterable {
    case normal = 100
    case wrongChain = 101
    case wrongChannel = 102
    case notAdmitted = 103
    case badHandshake = 104
    case handshakeTimeout = 105
    case selfConnection = 106
    case duplicateConnection = 107
    case unexpectedMessage = 108
    case tooSlow = 109
    case pingTimeout = 110
    case nonceExhausted = 111
    case badBlock = 112
    case rateLimited = 113

    /// The stable snake-case name.
    public var name: String {
        switch self {
        case .normal: "normal"
        case .wrongChain: "wrong_chain"
        case .wrongChannel: "wrong_channel"
        case .notAdmitted: "not_admitted"
        case .badHandshake: "bad_handshake"
        case .handshakeTimeout: "handshake_timeout"
        case .selfConnection: "self_connection"
        case .duplicateConnection: "duplicate_connection"
        case .unexpectedMessage: "unexpected_message"
        case .tooSlow: "too_slow"
        case .pingTimeout: "ping_timeout"
        case .nonceExhausted: "nonce_exhausted"
        case .badBlock: "bad_block"
        case .rateLimited: "rate_limited"
        }
    }

    /// The name of any `DISCONNECT` code: a reason, a decoding error, or `unknown(N)`.
    public static func name(ofCode code: UInt16) -> String {
        if let reason = DisconnectReason(rawValue: code) { return reason.name }
        if let error = WireError.Code(rawValue: code) { return error.name }
        return "unknown(\(code))"
    }
}
