/// An app's request, authorised by its own signature (Protocol/WIRE.md 5.1).
public struct SignedRequest: Hashable, Sendable, WireCodable {
    /// Request kind (ledger spec).
    public var kind: UInt16
    /// Ed25519 key of the requester.
    public var signer: Bytes32
    /// The requester's clock in ms.
    public var timestamp: UInt64
    public var body: [UInt8]
    /// Over tag `medledger/client-request/v1`, the chain id and ``signedBytes``.
    public var signature: Bytes64

    public init(kind: UInt16, signer: Bytes32, timestamp: UInt64, body: [UInt8], signature: Bytes64) {
        self.kind = kind
        self.signer = signer
        self.timestamp = timestamp
        self.body = body
        self.signature = signature
    }

    /// The canonical bytes the signature covers: every field before it.
    public var signedBytes: [UInt8] {
        var writer = ByteWriter()
        encodeSignedFields(to: &writer)
        return writer.bytes
    }

    private func encodeSignedFields(to writer: inout ByteWriter) {
        writer.write(kind)
        writer.write(signer)
        writer.write(timestamp)
        writer.writeLengthPrefixed(body)
    }

    public func encode(to writer: inout ByteWriter) {
        encodeSignedFields(to: &writer)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        kind = try reader.readU16("kind")
        signer = try Bytes32(from: &reader)
        timestamp = try reader.readU64("timestamp")
        body = try reader.readLengthPrefixed(max: WireLimits.clientBodyMax, "request body")
        signature = try Bytes64(from: &reader)
    }
}

/// `CLIENT_REQUEST`: a request id chosen by the client and the signed request.
public struct ClientRequest: Hashable, Sendable, WireCodable {
    public var requestID: UInt64
    public var request: SignedRequest

    public init(requestID: UInt64, request: SignedRequest) {
        self.requestID = requestID
        self.request = request
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requestID)
        writer.write(request)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requestID = try reader.readU64("request_id")
        request = try SignedRequest(from: &reader)
    }
}

/// `CLIENT_RESPONSE`: the answer to a request.
public struct ClientResponse: Hashable, Sendable, WireCodable {
    public var requestID: UInt64
    /// Response kind (ledger spec).
    public var kind: UInt16
    public var body: [UInt8]

    public init(requestID: UInt64, kind: UInt16, body: [UInt8]) {
        self.requestID = requestID
        self.kind = kind
        self.body = body
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requestID)
        writer.write(kind)
        writer.writeLengthPrefixed(body)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requestID = try reader.readU64("request_id")
        kind = try reader.readU16("kind")
        body = try reader.readLengthPrefixed(max: WireLimits.clientBodyMax, "response body")
    }
}

/// `CLIENT_ERROR`: a request that failed, with a message a person can act on.
public struct ClientError: Hashable, Sendable, WireCodable {
    public var requestID: UInt64
    public var code: UInt16
    public var message: String

    public init(requestID: UInt64, code: UInt16, message: String) {
        self.requestID = requestID
        self.code = code
        self.message = message
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requestID)
        writer.write(code)
        writer.write(message)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requestID = try reader.readU64("request_id")
        code = try reader.readU16("code")
        message = try reader.readString(max: WireLimits.clientErrorMessageMax, "message")
    }
}

/// `CLIENT_EVENT`: an event on a subscription.
public struct ClientEvent: Hashable, Sendable, WireCodable {
    /// The request id of the subscribing request.
    public var subscriptionID: UInt64
    /// Event kind (ledger spec).
    public var kind: UInt16
    public var body: [UInt8]

    public init(subscriptionID: UInt64, kind: UInt16, body: [UInt8]) {
        self.subscriptionID = subscriptionID
        self.kind = kind
        self.body = body
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(subscriptionID)
        writer.write(kind)
        writer.writeLengthPrefixed(body)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        subscriptionID = try reader.readU64("subscription_id")
        kind = try reader.readU16("kind")
        body = try reader.readLengthPrefixed(max: WireLimits.clientEventBodyMax, "event body")
    }
}
