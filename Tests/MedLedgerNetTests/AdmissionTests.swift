import Foundation
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Testing

/// A responder node on the peer port, and the keys it admits.
struct Responder {
    let node: TestNode
    let address: SocketAddress
    let admittedKey: Ed25519.PrivateKey

    init(
        host: String = "127.0.0.1", channel: Channel = .peer,
        _ tweak: (inout TransportConfiguration) -> Void = { _ in }
    ) throws {
        admittedKey = Ed25519.PrivateKey()
        node = try TestNode(admitting: [admittedKey.publicKey], tweak)
        address = try node.transport.listen(host: host, port: 0, channel: channel)
    }

    var counters: TransportCounters { node.transport.counters() }

    func refusals(_ reason: String) -> UInt64 { counters.refusals[reason] ?? 0 }
}

extension Loopback {
    @Suite struct Admission {
        @Test func wrongChainIsRefusedAndTheDialerLearnsWhy() async throws {
            let responder = try Responder()
            let stranger = try TestNode(key: responder.admittedKey, admitting: [responder.node.publicKey], chain: "another-chain")
            defer { responder.node.transport.shutdown(); stranger.transport.shutdown() }
            stranger.transport.dial(responder.node.endpoint(responder.address))
            #expect(await eventually { responder.refusals("wrong_chain") == 1 })
            #expect(await eventually { stranger.transport.counters().remoteCloses["wrong_chain"] == 1 })
            #expect(responder.node.events.connected.isEmpty && stranger.events.connected.isEmpty)
        }

        @Test func unsupportedVersionIsRefused() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            #expect(throws: HandshakeError.self) { try raw.handshake(key: responder.admittedKey, versions: 2...3) }
            #expect(await eventually { responder.refusals("unsupported_version") == 1 })
            #expect(responder.node.events.connected.isEmpty)
        }

        @Test func aNodeDiallingItselfIsRefused() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            responder.node.transport.setAdmittedPeerKeys([responder.node.publicKey])
            responder.node.transport.dial(responder.node.endpoint(responder.address))
            #expect(await eventually { responder.refusals("self_connection") == 1 })
            #expect(responder.node.events.connected.isEmpty)
        }

        @Test func aSecondConnectionFromTheSameKeyIsRefusedAndTheFirstStays() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let first = try RawPeer(to: responder.address)
            try first.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            let second = try RawPeer(to: responder.address)
            try second.handshake(key: responder.admittedKey)
            let outcome = second.readUntilClosed()
            #expect(outcome.closed && outcome.disconnect?.code == DisconnectReason.duplicateConnection.rawValue)
            #expect(await eventually { responder.refusals("duplicate_connection") == 1 })
            try first.send(vote(1, by: responder.admittedKey.publicKey))
            #expect(await eventually { responder.node.events.messages.count == 1 })
            #expect(responder.node.transport.connectedPeers().count == 1)
        }

        @Test func aNewConnectionReplacesOneThatWentSilentButNotOneThatIsAlive() async throws {
            // The peer's machine vanished without closing its connection, then came back.
            let responder = try Responder { $0.replaceSilentAfter = .milliseconds(600) }
            defer { responder.node.transport.shutdown() }
            let first = try RawPeer(to: responder.address)
            try first.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            // Alive (it sent a frame just now): a second connection is refused, the first stays.
            try first.send(vote(1, by: responder.admittedKey.publicKey))
            let early = try RawPeer(to: responder.address)
            try early.handshake(key: responder.admittedKey)
            #expect(early.readUntilClosed().disconnect?.code == DisconnectReason.duplicateConnection.rawValue)
            #expect(await eventually { responder.refusals("duplicate_connection") == 1 })
            // Silent past the limit: the next connection from the key replaces it.
            try await Task.sleep(for: .milliseconds(900))
            let second = try RawPeer(to: responder.address)
            try second.handshake(key: responder.admittedKey)
            let outcome = first.readUntilClosed()
            #expect(outcome.closed && outcome.disconnect?.code == DisconnectReason.duplicateConnection.rawValue)
            #expect(await eventually { responder.node.events.connected.count == 2 })
            try second.send(vote(2, by: responder.admittedKey.publicKey))
            #expect(await eventually { responder.node.events.messages.count == 2 })
            #expect(responder.node.transport.connectedPeers().count == 1)
        }

        @Test func anUnknownKeyIsRefusedOnThePeerPortButAnyKeyIsWelcomeOnTheClientPort() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let unknown = try RawPeer(to: responder.address)
            _ = try? unknown.handshake(key: Ed25519.PrivateKey())
            #expect(unknown.readUntilClosed().closed)
            #expect(await eventually { responder.refusals("not_admitted") == 1 })

            let clientPort = try responder.node.transport.listen(host: "127.0.0.1", port: 0, channel: .client)
            let app = Ed25519.PrivateKey()
            let client = try RawPeer(to: clientPort)
            try client.handshake(key: app, channel: .client)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            #expect(responder.node.events.connected.first?.key == app.publicKey)
            #expect(responder.node.events.connected.first?.channel == .client)

            // A peer handshake on the client port is the wrong channel.
            let confused = try RawPeer(to: clientPort)
            #expect(throws: HandshakeError.self) { try confused.handshake(key: responder.admittedKey, channel: .peer) }
            #expect(await eventually { responder.refusals("wrong_channel") == 1 })
        }

        @Test func anAuthSignatureThatDoesNotVerifyIsRefused() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            // The initiator's side done by hand, so that AUTH can carry the admitted key with a
            // signature made by another key.
            let ephemeral = X25519.PrivateKey()
            let hello = Hello(
                minVersion: 1, maxVersion: 1, channel: .peer, chainID: testChain,
                ephemeralKey: Bytes32(ephemeral.publicKey.bytes)!, nonce: Bytes32(secureRandomBytes(32))!)
            raw.write(Frame.plain(.hello(hello)).bytes)
            let reply = try #require(raw.readFrame())
            guard case .hello(let answer) = try Message.decode(type: .hello, payload: reply.payload) else {
                Issue.record("expected HELLO")
                return
            }
            let shared = try ephemeral.sharedSecret(with: X25519.PublicKey(bytes: answer.ephemeralKey.bytes))
            let th = Handshake.transcriptHash(initiator: hello, responder: answer)
            let key = try HKDF.deriveKey(
                inputKeyMaterial: shared.unprotectedBytes, salt: th, info: Array("medledger/v1 key i2r".utf8), length: 32)
            var sealer = try FrameSealer(key: key.unprotectedBytes)
            let forged = Ed25519.PrivateKey().signature(for: .handshake, chainID: testChain, message: [1] + th)
            let auth = Auth(nodeKey: Bytes32(responder.admittedKey.publicKey.bytes)!, signature: Bytes64(forged.bytes)!)
            raw.write(try Frame.sealed(.auth(auth), sealer: &sealer).bytes)
            #expect(raw.readUntilClosed().closed)
            #expect(await eventually { responder.refusals("bad_handshake") == 1 })
            #expect(responder.node.events.connected.isEmpty)
        }

        @Test func aHandshakeNotFinishedInTimeIsRefused() async throws {
            let responder = try Responder { $0.handshakeTimeout = .milliseconds(200) }
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            var handshake = Handshake(
                role: .initiator,
                configuration: HandshakeConfiguration(chainID: testChain, channel: .peer, nodeKey: responder.admittedKey))
            raw.write(Array(handshake.start()!.bytes.prefix(20)))
            let started = ContinuousClock.now
            let outcome = raw.readUntilClosed()
            #expect(outcome.closed && outcome.disconnect?.code == DisconnectReason.handshakeTimeout.rawValue)
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(await eventually { responder.refusals("handshake_timeout") == 1 })
        }

        @Test func theKeyLogGetsOneLineThatOpensTheConnection() async throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("keylog-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let keyLog = try KeyLogWriter(path: path)
            let responder = try Responder { $0.keyLog = keyLog }
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            let session = try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            let entries = try KeyLog.parse(String(contentsOfFile: path, encoding: .utf8))
            #expect(entries.count == 1 && entries.values.first == session.keyLogEntry)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }
}
