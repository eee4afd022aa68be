import MedLedgerCrypto

/// Why a handshake was refused: the `DISCONNECT` code to send and a sentence for the log.
public struct HandshakeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A ``DisconnectReason`` or ``WireError/Code`` number, as `DISCONNECT.code` carries it.
    public var code: UInt16
    public var detail: String

    public init(_ reason: DisconnectReason, _ detail: String) {
        code = reason.rawValue
        self.detail = detail
    }

    public init(_ error: WireError) {
        code = error.code.rawValue
        detail = error.description
    }

    /// The stable name of ``code``, for logs and metrics.
    public var name: String { DisconnectReason.name(ofCode: code) }

    public var description: String { "\(name): \(detail)" }
}

/// What one side of a handshake needs to know.
public struct HandshakeConfiguration: Sendable {
    public var chainID: String
    /// The port this connection is on (responder) or meant for (initiator).
    public var channel: Channel
    /// This node's long-term key, proven by signing the transcript.
    public var nodeKey: Ed25519.PrivateKey
    /// Protocol versions this side speaks.
    public var versions: ClosedRange<UInt8>
    /// Whether the peer's proven key may connect (the peer port admits genesis and configured keys;
    /// the client port admits any key).
    public var admits: @Sendable (Ed25519.PublicKey) -> Bool

    public init(
        chainID: String, channel: Channel, nodeKey: Ed25519.PrivateKey,
        versions: ClosedRange<UInt8> = FrameHeader.supportedVersions,
        admits: @escaping @Sendable (Ed25519.PublicKey) -> Bool = { _ in true }
    ) {
        self.chainID = chainID
        self.channel = channel
        self.nodeKey = nodeKey
        self.versions = versions
        self.admits = admits
    }
}

/// An established channel: the peer's proven key and the two directions' sealing state.
public struct SecureSession: Sendable {
    public var role: Handshake.Role
    public var channel: Channel
    public var version: UInt8
    /// The node key the peer proved by signing the transcript.
    public var peerNodeKey: Ed25519.PublicKey
    /// Seals what this side sends (its `AUTH` was sequence 0).
    public var sealer: FrameSealer
    /// Opens what the peer sends.
    public var opener: FrameOpener
    /// The line an operator's key log gets, if they enabled one (Protocol/WIRE.md 4.4).
    /// Secret: anyone holding it reads the connection.
    public var keyLogEntry: KeyLogEntry
}

/// The handshake of Protocol/WIRE.md section 4 as a pure state machine: frames in, frames out.
///
/// No sockets, clocks or randomness inside: the ephemeral key and nonce are given, so a run
/// replays exactly. The transport feeds it every frame that arrives until it reports
/// ``Step/established(send:session:)``, and enforces the handshake timeout itself.
public struct Handshake: Sendable {
    public enum Role: Sendable, Hashable {
        case initiator
        case responder

        var code: UInt8 { self == .initiator ? 1 : 2 }
    }

    /// What to do after a frame.
    public enum Step: Sendable {
        /// Send these frames, then wait for the next one.
        case send([Frame])
        /// Send these frames; the channel is established.
        case established(send: [Frame], session: SecureSession)
    }

    private enum State: Sendable {
        case initial
        case sentHello(Hello)
        case awaitingAuth(Keys)
        case done
        case failed
    }

    struct Keys: Sendable {
        var transcriptHash: [UInt8]
        var version: UInt8
        var sealer: FrameSealer
        var opener: FrameOpener
        var entry: KeyLogEntry
        var initiatorNonce: Bytes32
    }

    public let role: Role
    public let configuration: HandshakeConfiguration
    private let ephemeralKey: X25519.PrivateKey
    private let nonce: Bytes32
    private var state = State.initial
    /// The keys, once agreed: a `DISCONNECT` after that point is sealed.
    private var agreedKeys: Keys?

    /// - Parameters:
    ///   - ephemeralKey: a fresh X25519 key for this connection only.
    ///   - nonce: 32 fresh random bytes.
    public init(role: Role, configuration: HandshakeConfiguration, ephemeralKey: X25519.PrivateKey, nonce: Bytes32) {
        self.role = role
        self.configuration = configuration
        self.ephemeralKey = ephemeralKey
        self.nonce = nonce
    }

    /// A handshake with a fresh ephemeral key and nonce from the system's secure generator.
    public init(role: Role, configuration: HandshakeConfiguration) {
        self.init(
            role: role, configuration: configuration, ephemeralKey: X25519.PrivateKey(),
            nonce: Bytes32(secureRandomBytes(32))!)
    }

    /// The initiator's first frame (its `HELLO`); nil for a responder, which speaks second.
    public mutating func start() -> Frame? {
        guard role == .initiator, case .initial = state else { return nil }
        let hello = Hello(
            minVersion: configuration.versions.lowerBound, maxVersion: configuration.versions.upperBound,
            channel: configuration.channel, chainID: configuration.chainID,
            ephemeralKey: Bytes32(ephemeralKey.publicKey.bytes)!, nonce: nonce)
        state = .sentHello(hello)
        return Frame.plain(.hello(hello), version: FrameHeader.helloVersion)
    }

    /// Takes the next frame from the peer.
    ///
    /// Any error ends the handshake: close the connection, after sending ``disconnect(for:)`` if it
    /// returns a frame.
    public mutating func receive(_ frame: Frame) throws(HandshakeError) -> Step {
        let previous = state
        state = .failed
        switch (role, previous) {
        case (.responder, .initial):
            let hello = try Self.plainHello(frame)
            try checkPeerHello(hello)
            guard let version = Self.highestCommon(configuration.versions, hello.minVersion...hello.maxVersion) else {
                throw HandshakeError(
                    WireError(
                        .unsupportedVersion, layer: .message, offset: 0,
                        "the peer speaks versions \(hello.minVersion)-\(hello.maxVersion), this node \(configuration.versions)"))
            }
            let reply = Hello(
                minVersion: version, maxVersion: version, channel: configuration.channel,
                chainID: configuration.chainID, ephemeralKey: Bytes32(ephemeralKey.publicKey.bytes)!, nonce: nonce)
            let agreed = try keys(initiatorHello: hello, responderHello: reply)
            agreedKeys = agreed
            state = .awaitingAuth(agreed)
            return .send([Frame.plain(.hello(reply), version: FrameHeader.helloVersion)])

        case (.initiator, .sentHello(let mine)):
            let reply = try Self.plainHello(frame)
            try checkPeerHello(reply)
            guard reply.minVersion == reply.maxVersion, configuration.versions.contains(reply.minVersion),
                mine.minVersion...mine.maxVersion ~= reply.minVersion
            else {
                throw HandshakeError(
                    WireError(
                        .unsupportedVersion, layer: .message, offset: 0,
                        "the responder chose version \(reply.minVersion)-\(reply.maxVersion), outside \(configuration.versions)"))
            }
            var keys = try keys(initiatorHello: mine, responderHello: reply)
            let auth = try authFrame(keys: &keys)
            agreedKeys = keys
            state = .awaitingAuth(keys)
            return .send([auth])

        case (_, .awaitingAuth(var keys)):
            let peerKey: Ed25519.PublicKey
            do {
                peerKey = try openAuth(frame, keys: &keys)
            } catch {
                agreedKeys = keys
                throw error
            }
            let send = role == .responder ? [try authFrame(keys: &keys)] : []
            state = .done
            agreedKeys = nil
            let session = SecureSession(
                role: role, channel: configuration.channel, version: keys.version, peerNodeKey: peerKey,
                sealer: keys.sealer, opener: keys.opener, keyLogEntry: keys.entry)
            return .established(send: send, session: session)

        default:
            throw HandshakeError(.unexpectedMessage, "no \(frame.header.type.name) expected: the handshake is over or has failed")
        }
    }

    /// The `DISCONNECT` to send before closing for `error`: in the clear before keys were agreed,
    /// sealed after (Protocol/WIRE.md 2, "Processing order").
    public mutating func disconnect(for error: HandshakeError) -> Frame {
        let message = Message.disconnect(Disconnect(code: error.code, reason: String(decoding: Array(error.detail.utf8.prefix(400)), as: UTF8.self)))
        guard var keys = agreedKeys else { return Frame.plain(message, version: FrameHeader.helloVersion) }
        defer { agreedKeys = keys }
        guard let frame = try? Frame.sealed(message, version: keys.version, sealer: &keys.sealer) else {
            return Frame.plain(message, version: FrameHeader.helloVersion)
        }
        return frame
    }

    // MARK: Steps

    private static func plainHello(_ frame: Frame) throws(HandshakeError) -> Hello {
        guard frame.header.type == .hello, frame.header.flags.isEmpty, frame.header.version == FrameHeader.helloVersion
        else {
            throw HandshakeError(
                .unexpectedMessage, "expected a plain HELLO with header version 1, got \(frame.header.type.name) flags \(frame.header.flags.names)")
        }
        do {
            guard case .hello(let hello) = try Message.decode(type: .hello, payload: frame.payload) else {
                preconditionFailure("a HELLO payload decodes to .hello")
            }
            return hello
        } catch {
            throw HandshakeError(error)
        }
    }

    private func checkPeerHello(_ hello: Hello) throws(HandshakeError) {
        guard hello.chainID == configuration.chainID else {
            throw HandshakeError(.wrongChain, "the peer is on chain \(hello.chainID), this node on \(configuration.chainID)")
        }
        guard hello.channel == configuration.channel else {
            throw HandshakeError(
                .wrongChannel, "a \(hello.channel.name) handshake on a \(configuration.channel.name) connection")
        }
    }

    package static func highestCommon(_ a: ClosedRange<UInt8>, _ b: ClosedRange<UInt8>) -> UInt8? {
        let top = Swift.min(a.upperBound, b.upperBound)
        return top >= Swift.max(a.lowerBound, b.lowerBound) ? top : nil
    }

    /// The key schedule of Protocol/WIRE.md 4.2.
    private func keys(initiatorHello i: Hello, responderHello r: Hello) throws(HandshakeError) -> Keys {
        let peerEphemeral = role == .initiator ? r.ephemeralKey : i.ephemeralKey
        let shared: SecureBytes
        do {
            shared = try ephemeralKey.sharedSecret(with: X25519.PublicKey(bytes: peerEphemeral.bytes))
        } catch {
            throw HandshakeError(.badHandshake, "the peer's ephemeral key gives an all-zero shared secret")
        }
        let th = Self.transcriptHash(initiator: i, responder: r)
        let (i2r, r2i): (SecureBytes, SecureBytes)
        do {
            i2r = try HKDF.deriveKey(
                inputKeyMaterial: shared.unprotectedBytes, salt: th, info: Array("medledger/v1 key i2r".utf8), length: 32)
            r2i = try HKDF.deriveKey(
                inputKeyMaterial: shared.unprotectedBytes, salt: th, info: Array("medledger/v1 key r2i".utf8), length: 32)
        } catch {
            preconditionFailure("HKDF of 32 bytes cannot fail")
        }
        let send = role == .initiator ? i2r : r2i
        let receive = role == .initiator ? r2i : i2r
        return Keys(
            transcriptHash: th, version: r.minVersion,
            sealer: try! FrameSealer(key: send.unprotectedBytes), opener: try! FrameOpener(key: receive.unprotectedBytes),
            entry: KeyLogEntry(
                initiatorNonce: i.nonce, initiatorToResponder: Bytes32(i2r.unprotectedBytes)!,
                responderToInitiator: Bytes32(r2i.unprotectedBytes)!),
            initiatorNonce: i.nonce)
    }

    /// `th = SHA-256(u8 channel || string chain || u8 minI || u8 maxI || u8 v || eI || nI || eR || nR)`.
    public static func transcriptHash(initiator i: Hello, responder r: Hello) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(i.channel.rawValue)
        writer.write(i.chainID)
        writer.write(i.minVersion)
        writer.write(i.maxVersion)
        writer.write(r.minVersion)
        writer.write(i.ephemeralKey)
        writer.write(i.nonce)
        writer.write(r.ephemeralKey)
        writer.write(r.nonce)
        return SHA256.hash(writer.bytes).bytes
    }

    /// What `AUTH.signature` signs: `u8 role || th`.
    static func authSignedBytes(role: Role, transcriptHash: [UInt8]) -> [UInt8] {
        [role.code] + transcriptHash
    }

    private func authFrame(keys: inout Keys) throws(HandshakeError) -> Frame {
        let signature = configuration.nodeKey.signature(
            for: .handshake, chainID: configuration.chainID,
            message: Self.authSignedBytes(role: role, transcriptHash: keys.transcriptHash))
        let auth = Auth(nodeKey: Bytes32(configuration.nodeKey.publicKey.bytes)!, signature: Bytes64(signature.bytes)!)
        do {
            return try Frame.sealed(.auth(auth), version: keys.version, sealer: &keys.sealer)
        } catch {
            preconditionFailure("the first sealed frame cannot exhaust the nonces")
        }
    }

    private func openAuth(_ frame: Frame, keys: inout Keys) throws(HandshakeError) -> Ed25519.PublicKey {
        guard frame.header.type == .auth, frame.header.flags == .sealed, frame.header.version == keys.version else {
            throw HandshakeError(
                .unexpectedMessage,
                "expected a sealed AUTH with version \(keys.version), got \(frame.header.type.name) flags \(frame.header.flags.names)")
        }
        var opener: FrameOpener? = keys.opener
        let decoded: DecodedFrame
        do {
            decoded = try frame.decode(opener: &opener)
        } catch {
            switch error {
            case .wire(let error): throw HandshakeError(error)
            case .sealedWithoutKey: preconditionFailure("an opener was given")
            }
        }
        keys.opener = opener!
        guard case .auth(let auth) = decoded.message else { preconditionFailure("an AUTH frame decodes to .auth") }
        let peerRole: Role = role == .initiator ? .responder : .initiator
        guard let peerKey = try? Ed25519.PublicKey(bytes: auth.nodeKey.bytes),
            let signature = try? Ed25519.Signature(bytes: auth.signature.bytes),
            peerKey.isValidSignature(
                signature, for: .handshake, chainID: configuration.chainID,
                message: Self.authSignedBytes(role: peerRole, transcriptHash: keys.transcriptHash))
        else {
            throw HandshakeError(.badHandshake, "the peer's AUTH signature does not verify for node key \(auth.nodeKey.hex)")
        }
        guard peerKey != configuration.nodeKey.publicKey else {
            throw HandshakeError(.selfConnection, "the peer has this node's own key: a connection to itself")
        }
        guard configuration.admits(peerKey) else {
            throw HandshakeError(.notAdmitted, "node key \(auth.nodeKey.hex) is not admitted on the \(configuration.channel.name) port")
        }
        return peerKey
    }
}
