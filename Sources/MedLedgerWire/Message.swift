/// Any message of the wire protocol: the decoded payload of one frame.
public enum Message: Hashable, Sendable {
    case hello(Hello)
    case auth(Auth)
    case disconnect(Disconnect)
    case ping(Ping)
    case pong(Ping)
    case status(Status)
    case transaction(Transaction)
    case proposal(Proposal)
    case vote(Vote)
    case block(CommittedBlock)
    case blockRequest(BlockRequest)
    case blockResponse(BlockResponse)
    case evidence(Evidence)
    case recordBlob(RecordBlob)
    case recordBlobRequest(RecordBlobRequest)
    case clientRequest(ClientRequest)
    case clientResponse(ClientResponse)
    case clientError(ClientError)
    case clientEvent(ClientEvent)

    /// The frame type that carries this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .auth: .auth
        case .disconnect: .disconnect
        case .ping: .ping
        case .pong: .pong
        case .status: .status
        case .transaction: .transaction
        case .proposal: .proposal
        case .vote: .vote
        case .block: .block
        case .blockRequest: .blockRequest
        case .blockResponse: .blockResponse
        case .evidence: .evidence
        case .recordBlob: .recordBlob
        case .recordBlobRequest: .recordBlobRequest
        case .clientRequest: .clientRequest
        case .clientResponse: .clientResponse
        case .clientError: .clientError
        case .clientEvent: .clientEvent
        }
    }

    /// The payload's value, whatever its type.
    public var payload: any WireCodable & Sendable {
        switch self {
        case .hello(let m): m
        case .auth(let m): m
        case .disconnect(let m): m
        case .ping(let m): m
        case .pong(let m): m
        case .status(let m): m
        case .transaction(let m): m
        case .proposal(let m): m
        case .vote(let m): m
        case .block(let m): m
        case .blockRequest(let m): m
        case .blockResponse(let m): m
        case .evidence(let m): m
        case .recordBlob(let m): m
        case .recordBlobRequest(let m): m
        case .clientRequest(let m): m
        case .clientResponse(let m): m
        case .clientError(let m): m
        case .clientEvent(let m): m
        }
    }

    /// The canonical, uncompressed payload bytes.
    public func encodePayload() -> [UInt8] {
        var writer = ByteWriter()
        payload.encode(to: &writer)
        return writer.bytes
    }

    /// Decodes the payload of a frame of `type`, strictly: every byte must be used.
    ///
    /// Errors are in the `message` layer, with offsets from the start of `payload`.
    public static func decode(type: MessageType, payload: [UInt8]) throws(WireError) -> Message {
        var reader = ByteReader(payload, layer: .message)
        let message: Message
        switch type {
        case .hello: message = .hello(try Hello(from: &reader))
        case .auth: message = .auth(try Auth(from: &reader))
        case .disconnect: message = .disconnect(try Disconnect(from: &reader))
        case .ping: message = .ping(try Ping(from: &reader))
        case .pong: message = .pong(try Ping(from: &reader))
        case .status: message = .status(try Status(from: &reader))
        case .transaction: message = .transaction(try Transaction(from: &reader))
        case .proposal: message = .proposal(try Proposal(from: &reader))
        case .vote: message = .vote(try Vote(from: &reader))
        case .block: message = .block(try CommittedBlock(from: &reader))
        case .blockRequest: message = .blockRequest(try BlockRequest(from: &reader))
        case .blockResponse: message = .blockResponse(try BlockResponse(from: &reader))
        case .evidence: message = .evidence(try Evidence(from: &reader))
        case .recordBlob: message = .recordBlob(try RecordBlob(from: &reader))
        case .recordBlobRequest: message = .recordBlobRequest(try RecordBlobRequest(from: &reader))
        case .clientRequest: message = .clientRequest(try ClientRequest(from: &reader))
        case .clientResponse: message = .clientResponse(try ClientResponse(from: &reader))
        case .clientError: message = .clientError(try ClientError(from: &reader))
        case .clientEvent: message = .clientEvent(try ClientEvent(from: &reader))
        }
        try reader.expectEnd("\(type.name) message")
        return message
    }
}
