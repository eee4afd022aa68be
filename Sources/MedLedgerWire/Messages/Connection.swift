/// Which port a handshake is meant for.
public enum Channel: UInt8, Sendable, CaseIterable {
    /// Between facility nodes: only admitted node keys.
    case peer = 1
    /// Apps: any key; each request is authorised by its own signature.
    case client = 2

    public var name: String {
        switch self {
        case .peer: "peer"
        case .client: "client"
        }
    }
}

/// Handshake steps 1 and 2 (`HELLO`, Protocol/WIRE.md 4.1 and 5.2). Always sent in the clear with
/// header version 1.
public struct Hello: Hashable, Sendable, WireCodable {
    public var minVersion: UInt8
    public var maxVersion: UInt8
    public var channel: Channel
    public var chainID: String
    /// Fresh X25519 public key for this connection.
    public var ephemeralKey: Bytes32
    /// Fresh random bytes; the initiator's identifies the connection in the key log.
    public var nonce: Bytes32

    public init(
        minVersion: UInt8, maxVersion: UInt8, channel: Channel, chainID: String, ephemeralKey: Bytes32, nonce: Bytes32
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.channel = channel
        self.chainID = chainID
        self.ephemeralKey = ephemeralKey
        self.nonce = nonce
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(minVersion)
        writer.write(maxVersion)
        writer.write(channel.rawValue)
        writer.write(chainID)
        writer.write(ephemeralKey)
        writer.write(nonce)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let minStart = reader.position
        minVersion = try reader.readU8("min_version")
        guard minVersion >= 1 else {
            throw reader.error(.valueOutOfRange, at: minStart, "min_version must be at least 1")
        }
        let maxStart = reader.position
        maxVersion = try reader.readU8("max_version")
        guard minVersion <= maxVersion else {
            throw reader.error(
                .valueOutOfRange, at: maxStart, "max_version \(maxVersion) is below min_version \(minVersion)")
        }
        channel = try reader.readEnum("channel")
        chainID = try reader.readChainID()
        ephemeralKey = try Bytes32(from: &reader)
        nonce = try Bytes32(from: &reader)
    }
}

/// Handshake step 3 (`AUTH`): the sender's node key and its signature over the transcript.
public struct Auth: Hashable, Sendable, WireCodable {
    public var nodeKey: Bytes32
    public var signature: Bytes64

    public init(nodeKey: Bytes32, signature: Bytes64) {
        self.nodeKey = nodeKey
        self.signature = signature
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(nodeKey)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        nodeKey = try Bytes32(from: &reader)
        signature = try Bytes64(from: &reader)
    }
}

/// Why the sender closes the connection (`DISCONNECT`).
public struct Disconnect: Hashable, Sendable, WireCodable {
    /// A ``DisconnectReason`` or a ``WireError/Code`` number.
    public var code: UInt16
    /// For the other side's log; never record contents.
    public var reason: String

    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(code)
        writer.write(reason)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        code = try reader.readU16("code")
        reason = try reader.readString(max: WireLimits.disconnectReasonMax, "reason")
    }
}

/// A keepalive probe or its answer (`PING`, `PONG`).
public struct Ping: Hashable, Sendable, WireCodable {
    public var nonce: UInt64

    public init(nonce: UInt64) { self.nonce = nonce }

    public func encode(to writer: inout ByteWriter) { writer.write(nonce) }

    public init(from reader: inout ByteReader) throws(WireError) {
        nonce = try reader.readU64("nonce")
    }
}
