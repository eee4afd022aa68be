import Foundation
import MedLedgerCrypto
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// Two sides of a handshake with fixed keys, so a run replays exactly (and gives the vector).
struct HandshakePair {
    static let chainID = "medledger-vectors"

    static func seed(_ label: String) -> SecureBytes { SecureBytes(SHA256.hash(Array(label.utf8)).bytes) }

    static let initiatorNode = try! Ed25519.PrivateKey(seed: seed("node key general-hospital"))
    static let responderNode = try! Ed25519.PrivateKey(seed: seed("node key diagnostic-lab"))
    static let initiatorEphemeral = try! X25519.PrivateKey(rawKey: seed("ephemeral general-hospital"))
    static let responderEphemeral = try! X25519.PrivateKey(rawKey: seed("ephemeral diagnostic-lab"))
    static let initiatorNonce = Bytes32(SHA256.hash(Array("nonce general-hospital".utf8)).bytes)!
    static let responderNonce = Bytes32(SHA256.hash(Array("nonce diagnostic-lab".utf8)).bytes)!

    var initiator: Handshake
    var responder: Handshake

    init(
        initiatorChain: String = chainID, responderChain: String = chainID, initiatorChannel: Channel = .peer,
        responderChannel: Channel = .peer, initiatorVersions: ClosedRange<UInt8> = 1...1,
        responderVersions: ClosedRange<UInt8> = 1...1, responderKey: Ed25519.PrivateKey = responderNode,
        responderAdmits: @escaping @Sendable (Ed25519.PublicKey) -> Bool = { _ in true }
    ) {
        initiator = Handshake(
            role: .initiator,
            configuration: HandshakeConfiguration(
                chainID: initiatorChain, channel: initiatorChannel, nodeKey: Self.initiatorNode,
                versions: initiatorVersions),
            ephemeralKey: Self.initiatorEphemeral, nonce: Self.initiatorNonce)
        responder = Handshake(
            role: .responder,
            configuration: HandshakeConfiguration(
                chainID: responderChain, channel: responderChannel, nodeKey: responderKey, versions: responderVersions,
                admits: responderAdmits),
            ephemeralKey: Self.responderEphemeral, nonce: Self.responderNonce)
    }

    /// Runs the whole exchange; returns the frames in order and both sessions.
    mutating func run() throws -> (frames: [Frame], initiator: SecureSession, responder: SecureSession) {
        var frames: [Frame] = []
        let hello = initiator.start()!
        frames.append(hello)
        guard case .send(let replies) = try responder.receive(reparse(hello)) else { throw HandshakeError(.normal, "") }
        frames += replies
        guard case .send(let auths) = try initiator.receive(reparse(replies[0])) else { throw HandshakeError(.normal, "") }
        frames += auths
        guard case .established(let last, let responderSession) = try responder.receive(reparse(auths[0])) else {
            throw HandshakeError(.normal, "")
        }
        frames += last
        guard case .established(let none, let initiatorSession) = try initiator.receive(reparse(last[0])) else {
            throw HandshakeError(.normal, "")
        }
        #expect(none.isEmpty)
        return (frames, initiatorSession, responderSession)
    }

    /// Bytes on the wire and back: the frames the other side sees are parsed from bytes.
    func reparse(_ frame: Frame) throws -> Frame { try Frame.parseSingle(frame.bytes) }
}

/// Expects `body` to fail with the handshake error named `name`.
func expectHandshakeError(
    _ name: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    #expect(sourceLocation: sourceLocation) {
        try body()
    } throws: { error in
        (error as? HandshakeError)?.name == name
    }
}

@Suite("secure channel handshake")
struct HandshakeTests {
    @Test("both sides establish, prove each other's node key and agree on the keys")
    func establishes() throws {
        var pair = HandshakePair()
        let (frames, i, r) = try pair.run()
        #expect(frames.map(\.header.type) == [.hello, .hello, .auth, .auth])
        #expect(frames.map(\.header.flags) == [[], [], .sealed, .sealed])
        #expect(i.peerNodeKey == HandshakePair.responderNode.publicKey)
        #expect(r.peerNodeKey == HandshakePair.initiatorNode.publicKey)
        #expect(i.keyLogEntry == r.keyLogEntry)
        #expect(i.keyLogEntry.initiatorNonce == HandshakePair.initiatorNonce)
        #expect(i.keyLogEntry.initiatorToResponder != i.keyLogEntry.responderToInitiator)
    }

    @Test("sessions carry traffic both ways and refuse a tampered header, a tampered payload, a replay and the wrong direction")
    func sessionsCarryTraffic() throws {
        var pair = HandshakePair()
        var (_, i, r) = try pair.run()
        // Each side's AUTH was sequence 0; traffic continues at 1.
        #expect(i.sealer.nextSequence == 1 && r.opener.nextSequence == 1)
        let ping = try Frame.sealed(.ping(Ping(nonce: 5)), sealer: &i.sealer)
        var opener: FrameOpener? = r.opener
        #expect(try Frame.parseSingle(ping.bytes).decode(opener: &opener).message == .ping(Ping(nonce: 5)))
        r.opener = opener!

        let second = try Frame.sealed(.ping(Ping(nonce: 6)), sealer: &i.sealer)
        func rejects(_ bytes: [UInt8], _ opener: FrameOpener) -> Bool {
            var opener: FrameOpener? = opener
            do {
                _ = try Frame.parseSingle(bytes).decode(opener: &opener)
                return false
            } catch {
                return true
            }
        }
        var tamperedPayload = second.bytes
        tamperedPayload[20] ^= 1
        #expect(rejects(tamperedPayload, r.opener), "tampered payload")
        var relabelled = second.header
        relabelled.type = .pong
        #expect(rejects(relabelled.bytes + second.payload, r.opener), "tampered header")
        #expect(rejects(ping.bytes, r.opener), "replayed frame")
        #expect(rejects(second.bytes, i.opener), "frame from the wrong direction")
        #expect(!rejects(second.bytes, r.opener), "the untouched frame still opens")

        let pong = try Frame.sealed(.pong(Ping(nonce: 5)), sealer: &r.sealer)
        var back: FrameOpener? = i.opener
        #expect(try pong.decode(opener: &back).message == .pong(Ping(nonce: 5)))
    }

    @Test("the key log line opens the session's frames (what medledger-inspect does)")
    func keyLogOpens() throws {
        var pair = HandshakePair()
        var (_, i, _) = try pair.run()
        let frame = try Frame.sealed(.ping(Ping(nonce: 1)), sealer: &i.sealer)
        let entry = try KeyLog.parse(i.keyLogEntry.description + "\n").values.first!
        var opener: FrameOpener? = try FrameOpener(key: entry.key(for: .initiatorToResponder).bytes, nextSequence: 1)
        #expect(try frame.decode(opener: &opener).message == .ping(Ping(nonce: 1)))
    }

    @Test("a wrong chain id is refused by the responder with wrong_chain")
    func wrongChain() {
        var pair = HandshakePair(initiatorChain: "medledger-other")
        expectHandshakeError("wrong_chain") { _ = try pair.run() }
    }

    @Test("a client handshake on the peer port is refused with wrong_channel")
    func wrongChannel() {
        var pair = HandshakePair(initiatorChannel: .client)
        expectHandshakeError("wrong_channel") { _ = try pair.run() }
    }

    @Test("no common version is refused with unsupported_version; the highest common one is chosen")
    func versions() throws {
        var none = HandshakePair(initiatorVersions: 2...3, responderVersions: 1...1)
        expectHandshakeError("unsupported_version") { _ = try none.run() }
        #expect(Handshake.highestCommon(1...3, 2...5) == 3)
        #expect(Handshake.highestCommon(1...1, 2...5) == nil)
    }

    @Test("an unadmitted node key is refused with not_admitted")
    func notAdmitted() {
        var pair = HandshakePair(responderAdmits: { _ in false })
        expectHandshakeError("not_admitted") { _ = try pair.run() }
    }

    @Test("a connection to itself is refused with self_connection")
    func selfConnection() {
        var pair = HandshakePair(responderKey: HandshakePair.initiatorNode)
        expectHandshakeError("self_connection") { _ = try pair.run() }
    }

    @Test("a man in the middle who swaps an ephemeral key breaks the AUTH: decryption_failed")
    func swappedEphemeral() throws {
        var pair = HandshakePair()
        let hello = pair.initiator.start()!
        guard case .send(let replies) = try pair.responder.receive(hello) else { return }
        guard case .hello(var reply) = try Message.decode(type: .hello, payload: replies[0].payload) else { return }
        reply.ephemeralKey = Bytes32(X25519.PrivateKey().publicKey.bytes)!
        guard case .send(let auths) = try pair.initiator.receive(Frame.plain(.hello(reply))) else { return }
        expectHandshakeError("decryption_failed") { _ = try pair.responder.receive(auths[0]) }
        // The responder can still say why, sealed under the keys it agreed.
        let disconnect = pair.responder.disconnect(for: HandshakeError(.badHandshake, "x"))
        #expect(disconnect.header.flags == .sealed)
    }

    @Test("an AUTH signed by a key other than the one it names is refused with bad_handshake")
    func forgedAuth() throws {
        // Fixed ephemeral keys and nonces: every run of the pair agrees the same keys.
        var reference = HandshakePair()
        let entry = try reference.run().initiator.keyLogEntry
        var pair = HandshakePair()
        let hello = pair.initiator.start()!
        guard case .send(let replies) = try pair.responder.receive(hello) else { return }
        guard case .send(let auths) = try pair.initiator.receive(replies[0]) else { return }
        // An insider with the channel keys re-seals the initiator's AUTH naming another node key.
        var opener: FrameOpener? = try FrameOpener(key: entry.initiatorToResponder.bytes)
        guard case .auth(var auth) = try auths[0].decode(opener: &opener).message else { return }
        auth.nodeKey = Bytes32(Ed25519.PrivateKey().publicKey.bytes)!
        var sealer = try FrameSealer(key: entry.initiatorToResponder.bytes)
        let forged = try Frame.sealed(.auth(auth), sealer: &sealer)
        expectHandshakeError("bad_handshake") { _ = try pair.responder.receive(forged) }
    }

    @Test("frames out of order are unexpected_message: a PING before HELLO, a second HELLO")
    func unexpectedFrames() throws {
        var pair = HandshakePair()
        expectHandshakeError("unexpected_message") { _ = try pair.responder.receive(Frame.plain(.ping(Ping(nonce: 1)))) }
        var other = HandshakePair()
        let hello = other.initiator.start()!
        _ = try other.responder.receive(hello)
        expectHandshakeError("unexpected_message") { _ = try other.responder.receive(hello) }
        #expect(other.responder.disconnect(for: HandshakeError(.unexpectedMessage, "x")).header.type == .disconnect)
    }
}

@Suite("Protocol/vectors/handshake", .serialized)
struct HandshakeVectorTests {
    static let path = VectorFiles.directory.appendingPathComponent("handshake/peer-handshake.json")

    static func expected() throws -> JSONValue {
        var pair = HandshakePair()
        let (frames, i, _) = try pair.run()
        func hello(_ frame: Frame) -> Hello {
            guard case .hello(let hello) = try! Message.decode(type: .hello, payload: frame.payload) else { fatalError() }
            return hello
        }
        let shared = try HandshakePair.initiatorEphemeral.sharedSecret(with: HandshakePair.responderEphemeral.publicKey)
        func side(_ node: Ed25519.PrivateKey, _ ephemeral: X25519.PrivateKey, _ nonce: Bytes32) -> JSONValue {
            .object([
                ("node_seed", .hex(node.seed.unprotectedBytes)), ("node_key", .hex(node.publicKey.bytes)),
                ("ephemeral_private", .hex(ephemeral.rawKey.unprotectedBytes)),
                ("ephemeral_public", .hex(ephemeral.publicKey.bytes)), ("nonce", nonce.json),
            ])
        }
        return .object([
            ("description", .string("A complete peer-port handshake (Protocol/WIRE.md 4): HELLO, HELLO, AUTH (i2r 0), AUTH (r2i 0). Test keys only.")),
            ("chain_id", .string(HandshakePair.chainID)), ("channel", .string("peer")),
            ("initiator", side(HandshakePair.initiatorNode, HandshakePair.initiatorEphemeral, HandshakePair.initiatorNonce)),
            ("responder", side(HandshakePair.responderNode, HandshakePair.responderEphemeral, HandshakePair.responderNonce)),
            ("shared_secret", .hex(shared.unprotectedBytes)),
            ("transcript_hash", .hex(Handshake.transcriptHash(initiator: hello(frames[0]), responder: hello(frames[1])))),
            ("key_i2r", i.keyLogEntry.initiatorToResponder.json), ("key_r2i", i.keyLogEntry.responderToInitiator.json),
            ("key_log", .string(i.keyLogEntry.description)),
            ("frames", .array(frames.map { .hex($0.bytes) })),
        ])
    }

    @Test("the handshake vector matches the code (MEDLEDGER_WRITE_VECTORS=1 rewrites it)")
    func vectorMatches() throws {
        let expected = try Self.expected()
        if VectorFiles.regenerating {
            try FileManager.default.createDirectory(
                at: Self.path.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (expected.prettyDescription + "\n").write(to: Self.path, atomically: true, encoding: .utf8)
        }
        let onDisk = try JSONValue(parsing: String(contentsOf: Self.path, encoding: .utf8))
        #expect(onDisk == expected)
    }
}

@Suite("key log file")
struct KeyLogWriterTests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("medledger-keylog-\(getpid())-\(name)").path
    }

    @Test("a new key log is created with mode 0600 and its lines parse back")
    func createsPrivateFile() throws {
        let path = temporaryPath("new")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var pair = HandshakePair()
        let entry = try pair.run().initiator.keyLogEntry
        let writer = try KeyLogWriter(path: path)
        try writer.append(entry)
        try writer.append(entry)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2)
        #expect(try KeyLog.parse(text)[entry.initiatorNonce] == entry)
    }

    @Test("an existing key log readable by others is refused with the chmod that fixes it")
    func refusesOpenFile() throws {
        let path = temporaryPath("open")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o644])
        #expect {
            _ = try KeyLogWriter(path: path)
        } throws: { error in
            (error as? KeyLogError)?.reason.contains("chmod 600 \(path)") == true
        }
    }
}
