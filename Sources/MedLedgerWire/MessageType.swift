/// The message type byte of a frame header (Protocol/WIRE.md section 5).
public enum MessageType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x01
    case auth = 0x02
    case disconnect = 0x03
    case ping = 0x10
    case pong = 0x11
    case status = 0x12
    case transaction = 0x20
    case proposal = 0x21
    case vote = 0x22
    case block = 0x23
    case blockRequest = 0x24
    case blockResponse = 0x25
    case evidence = 0x26
    case recordBlob = 0x27
    case recordBlobRequest = 0x28
    case clientRequest = 0x30
    case clientResponse = 0x31
    case clientError = 0x32
    case clientEvent = 0x33

    /// The stable lower-case name used in JSON, logs and metrics.
    public var name: String {
        switch self {
        case .hello: "hello"
        case .auth: "auth"
        case .disconnect: "disconnect"
        case .ping: "ping"
        case .pong: "pong"
        case .status: "status"
        case .transaction: "transaction"
        case .proposal: "proposal"
        case .vote: "vote"
        case .block: "block"
        case .blockRequest: "block_request"
        case .blockResponse: "block_response"
        case .evidence: "evidence"
        case .recordBlob: "record_blob"
        case .recordBlobRequest: "record_blob_request"
        case .clientRequest: "client_request"
        case .clientResponse: "client_response"
        case .clientError: "client_error"
        case .clientEvent: "client_event"
        }
    }

    /// Looks a type up by its stable name.
    public init?(name: String) {
        guard let type = MessageType.allCases.first(where: { $0.name == name }) else { return nil }
        self = type
    }

    /// Which connections may carry this type.
    public enum Port: Sendable { case both, peer, client }

    /// Which connections may carry this type.
    public var port: Port {
        switch self {
        case .hello, .auth, .disconnect, .ping, .pong: .both
        case .status, .transaction, .proposal, .vote, .block, .blockRequest, .blockResponse, .evidence, .recordBlob,
            .recordBlobRequest:
            .peer
        case .clientRequest, .clientResponse, .clientError, .clientEvent: .client
        }
    }

    public var description: String { name }
}
