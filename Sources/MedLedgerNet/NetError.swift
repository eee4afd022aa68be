/// An error of the transport's API: what failed and a sentence saying what to do.
///
/// Problems of one connection (bad input, refusals, slow peers) are not thrown: they close that
/// connection, are logged, counted in ``TransportCounters`` and reported as
/// ``TransportEvent/disconnected(_:_:)``.
public struct NetError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// A host name did not resolve to an address.
        case resolveFailed = "resolve_failed"
        /// A listening socket could not be created, bound or put to listen.
        case listenFailed = "listen_failed"
        /// A connection could not be started.
        case connectFailed = "connect_failed"
        /// The transport was shut down.
        case shutDown = "shut_down"
        /// No established connection for that peer.
        case notConnected = "not_connected"
        /// The message is larger than a frame (or a connection's queue) can carry.
        case messageTooLarge = "message_too_large"
        /// The message type cannot be sent on that connection (handshake messages, or a type of
        /// the other port).
        case messageNotAllowed = "message_not_allowed"
        /// A configuration value is out of range.
        case invalidConfiguration = "invalid_configuration"
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
