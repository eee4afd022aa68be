import MedLedgerWire

/// Why a connection ended: the stable name counters and logs use, the `DISCONNECT` code, and
/// which side decided.
///
/// Names are the `DISCONNECT` code names of Protocol/WIRE.md section 7 where one fits exactly, and
/// the transport's own finer names otherwise (`queue_full`, `write_stall`, `frame_timeout`, ...),
/// listed in Protocol/TRANSPORT.md with the code each sends.
public struct CloseReason: Hashable, Sendable, CustomStringConvertible {
    /// Which side ended the connection.
    public enum Origin: String, Hashable, Sendable {
        /// This transport closed it (a refusal, bad input, a timeout, a slow peer, or on request).
        case local
        /// The other side sent `DISCONNECT`, closed the socket, or the socket failed.
        case remote
    }

    /// The stable snake-case name, the key in ``TransportCounters``.
    public var name: String
    /// The `DISCONNECT` code sent (local) or received (remote; 0 when none was received).
    public var code: UInt16
    public var origin: Origin
    /// A sentence for the log; never payload contents.
    public var detail: String

    public init(name: String, code: UInt16, origin: Origin, detail: String) {
        self.name = name
        self.code = code
        self.origin = origin
        self.detail = detail
    }

    public var description: String { "\(origin.rawValue) \(name) (code \(code)): \(detail)" }

    static func local(_ reason: DisconnectReason, _ detail: String) -> CloseReason {
        CloseReason(name: reason.name, code: reason.rawValue, origin: .local, detail: detail)
    }

    /// A transport-specific name that sends `code` on the wire.
    static func local(_ name: String, code: DisconnectReason, _ detail: String) -> CloseReason {
        CloseReason(name: name, code: code.rawValue, origin: .local, detail: detail)
    }

    static func local(_ error: WireError) -> CloseReason {
        CloseReason(name: error.code.name, code: error.code.rawValue, origin: .local, detail: error.description)
    }

    static func local(_ error: HandshakeError) -> CloseReason {
        CloseReason(name: error.name, code: error.code, origin: .local, detail: error.detail)
    }

    static func remote(_ disconnect: Disconnect) -> CloseReason {
        CloseReason(
            name: DisconnectReason.name(ofCode: disconnect.code), code: disconnect.code, origin: .remote,
            detail: "the peer sent DISCONNECT: \(sanitized(disconnect.reason))")
    }

    static func remote(_ name: String, _ detail: String) -> CloseReason {
        CloseReason(name: name, code: 0, origin: .remote, detail: detail)
    }

    /// A peer's free text, cut and stripped of control characters before it reaches a log line.
    static func sanitized(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(200).filter { $0.value >= 0x20 && $0.value != 0x7F }))
    }
}
