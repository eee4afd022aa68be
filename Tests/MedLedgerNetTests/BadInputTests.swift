import Foundation
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Testing

/// A frame header with any type byte and length, and a correct CRC.
func rawHeader(type: UInt8, flags: UInt8 = 0x02, length: UInt32) -> [UInt8] {
    var bytes: [UInt8] = [0x4D, 0x4C, 0x44, 0x47, 1, type, flags, 0]
    bytes += [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
    let crc = Zlib.crc32(bytes)
    bytes += [UInt8(crc >> 24), UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc)]
    return bytes
}

extension Loopback {
    @Suite struct BadInput {
        /// A responder with a healthy transport peer connected to it, and a raw peer after its
        /// handshake; `misbehave` makes the raw peer break a rule.
        func expectDrop(
            _ reason: String, code: UInt16? = nil, _ tweak: @escaping (inout TransportConfiguration) -> Void = { _ in },
            misbehave: (RawPeer) throws -> Void
        ) async throws {
            let healthy = Ed25519.PrivateKey()
            let responder = try Responder(tweak)
            responder.node.transport.setAdmittedPeerKeys([responder.admittedKey.publicKey, healthy.publicKey])
            let friend = try TestNode(key: healthy, admitting: [responder.node.publicKey], tweak)
            defer { responder.node.transport.shutdown(); friend.transport.shutdown() }
            friend.transport.dial(responder.node.endpoint(responder.address))

            let raw = try RawPeer(to: responder.address)
            try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.transport.connectedPeers().count == 2 })
            // The friend's side of its connection may be established a moment after the responder's.
            #expect(await eventually { friend.transport.connectedPeers().count == 1 })
            try misbehave(raw)
            let started = ContinuousClock.now
            let outcome = raw.readUntilClosed()
            #expect(outcome.closed, "the misbehaving peer must be disconnected")
            #expect(ContinuousClock.now - started < .seconds(3))
            if let code { #expect(outcome.disconnect?.code == code) }
            #expect(await eventually { responder.counters.drops[reason] == 1 }, "drops: \(responder.counters.drops)")

            // Everyone else carries on.
            try friend.transport.send(vote(42, by: healthy.publicKey), to: responder.node.publicKey)
            #expect(await eventually { responder.node.events.messages.contains { $0.0 == vote(42, by: healthy.publicKey) } })
            #expect(responder.node.transport.connectedPeers().map(\.key) == [healthy.publicKey])
        }

        @Test func garbageClosesOnlyThatConnection() async throws {
            try await expectDrop("bad_magic", code: WireError.Code.badMagic.rawValue) { raw in
                raw.write(Array(repeating: 0xAB, count: 64))
            }
        }

        @Test func anOversizedLengthIsRefusedFromTheHeaderAlone() async throws {
            try await expectDrop("frame_too_large", code: WireError.Code.frameTooLarge.rawValue) { raw in
                raw.write(rawHeader(type: MessageType.block.rawValue, length: 9 * 1024 * 1024))
            }
        }

        @Test func anUnknownMessageTypeClosesTheConnection() async throws {
            try await expectDrop("unknown_message_type") { raw in
                raw.write(rawHeader(type: 0x7F, length: 32) + Array(repeating: 0, count: 32))
            }
        }

        @Test func halfAFrameThenSilenceIsDroppedAfterTheFrameTimeout() async throws {
            try await expectDrop("frame_timeout", { $0.frameTimeout = .milliseconds(300) }) { raw in
                let frame = try raw.seal(vote(1, by: raw.session!.peerNodeKey))
                raw.write(Array(frame.bytes.prefix(frame.bytes.count / 2)))
            }
        }

        @Test func aReplayedFrameFailsToOpen() async throws {
            try await expectDrop("decryption_failed", code: WireError.Code.decryptionFailed.rawValue) { raw in
                let frame = try raw.seal(vote(1, by: raw.session!.peerNodeKey))
                raw.write(frame.bytes)
                raw.write(frame.bytes)
            }
        }

        @Test func aTamperedPayloadFailsToOpen() async throws {
            try await expectDrop("decryption_failed") { raw in
                var bytes = try raw.seal(vote(1, by: raw.session!.peerNodeKey)).bytes
                bytes[20] ^= 0x01
                raw.write(bytes)
            }
        }

        @Test func aTamperedHeaderFailsToOpen() async throws {
            try await expectDrop("decryption_failed") { raw in
                // A VOTE relabelled as an EVIDENCE, with a CRC that matches: only the AAD catches it.
                let bytes = try raw.seal(vote(1, by: raw.session!.peerNodeKey)).bytes
                raw.write(rawHeader(type: MessageType.evidence.rawValue, length: UInt32(bytes.count - 16)) + bytes[16...])
            }
        }

        @Test func aClientMessageOnThePeerPortIsUnexpected() async throws {
            try await expectDrop("unexpected_message", code: DisconnectReason.unexpectedMessage.rawValue) { raw in
                try raw.send(.clientError(ClientError(requestID: 1, code: 1, message: "no")))
            }
        }

        @Test func aPlainFrameAfterTheHandshakeIsUnexpected() async throws {
            try await expectDrop("unexpected_message") { raw in
                raw.write(Frame.plain(.ping(Ping(nonce: 1))).bytes)
            }
        }

        @Test func dripFedAndCoalescedFramesAllArrive() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            try raw.handshake(key: responder.admittedKey, drip: true)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            let key = responder.admittedKey.publicKey
            // One byte at a time, three frames.
            for height in 1...3 { raw.drip(try raw.seal(vote(UInt64(height), by: key)).bytes) }
            // Five hundred frames in one write.
            var burst: [UInt8] = []
            for height in 4...503 { burst += try raw.seal(vote(UInt64(height), by: key)).bytes }
            raw.write(burst)
            #expect(await eventually { responder.node.events.messages.count == 503 })
            #expect(responder.node.events.messages.map(\.0) == (1...503).map { vote(UInt64($0), by: key) })
        }

        @Test func payloadPlaintextNeverAppearsOnTheWire() async throws {
            let responder = try Responder()
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            let marker = Array("PATIENT-MARKER-7f3a9c".utf8)
            let body = Array(repeating: marker, count: 100).flatMap { $0 }
            try responder.node.transport.send(transaction(1, body: body), to: responder.admittedKey.publicKey)
            try responder.node.transport.send(transaction(2, body: marker), to: responder.admittedKey.publicKey)
            var wire: [UInt8] = []
            var opened: [Message] = []
            while opened.count < 2, let frame = raw.readFrame() {
                wire += frame.bytes
                let plain = try raw.session!.opener.open(frame.payload, header: frame.header.bytes)
                let decoded = try Frame.decodePlaintext(header: frame.header, plaintext: plain)
                if decoded.header.type == .transaction { opened.append(decoded.message) }
            }
            #expect(opened == [transaction(1, body: body), transaction(2, body: marker)])
            let found = wire.indices.dropLast(marker.count).contains { wire[$0..<$0 + marker.count].elementsEqual(marker) }
            #expect(!found, "the marker must not travel in the clear")
        }
    }
}
