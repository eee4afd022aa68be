import Foundation
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Testing

/// Every test that binds a port lives under this suite, one test at a time.
@Suite(.serialized) enum Loopback {}

extension Loopback {
    @Suite struct Exchange {
        @Test(arguments: ["127.0.0.1", "::1"])
        func twoTransportsExchangeFramesBothWaysInOrder(host: String) async throws {
            let a = try TestNode()
            let b = try TestNode(admitting: [a.publicKey])
            a.transport.setAdmittedPeerKeys([b.publicKey])
            defer { a.transport.shutdown(); b.transport.shutdown() }
            let address = try b.transport.listen(host: host, port: 0, channel: .peer)
            #expect(address.port != 0 && address.isIPv6 == (host == "::1"))
            a.transport.dial(b.endpoint(address))
            #expect(await eventually { a.events.connected.count == 1 && b.events.connected.count == 1 })
            #expect(a.events.connected.first?.key == b.publicKey && a.events.connected.first?.direction == .outbound)
            #expect(b.events.connected.first?.key == a.publicKey && b.events.connected.first?.direction == .inbound)

            for height in 1...200 { try a.transport.send(vote(UInt64(height), by: a.publicKey), to: b.publicKey) }
            for nonce in 1...200 { try b.transport.send(transaction(UInt64(nonce)), to: a.publicKey) }
            #expect(await eventually { b.events.messages.count == 200 && a.events.messages.count == 200 })
            #expect(b.events.messages.map(\.0) == (1...200).map { vote(UInt64($0), by: a.publicKey) })
            #expect(a.events.messages.map(\.0) == (1...200).map { transaction(UInt64($0)) })

            let sent = a.transport.counters()
            let received = b.transport.counters()
            #expect(sent.byMessageType[.vote]?.framesOut == 200)
            #expect(received.byMessageType[.vote]?.framesIn == 200)
            #expect(sent.byMessageType[.vote]?.bytesOut == received.byMessageType[.vote]?.bytesIn)
            #expect(sent.byPeer[b.publicKey]?.framesIn ?? 0 >= 200)
            #expect(received.byPeer[a.publicKey]?.framesOut ?? 0 >= 200)
            #expect(sent.establishedConnections == 1 && received.establishedConnections == 1)
        }

        @Test func threeTransportsBroadcastToEachOther() async throws {
            let keys = (0..<3).map { _ in Ed25519.PrivateKey() }
            let nodes = try keys.map { try TestNode(key: $0, admitting: keys.map(\.publicKey)) }
            defer { nodes.forEach { $0.transport.shutdown() } }
            let addresses = try nodes.map { try $0.transport.listen(host: "127.0.0.1", port: 0, channel: .peer) }
            nodes[0].transport.dial(nodes[1].endpoint(addresses[1]))
            nodes[0].transport.dial(nodes[2].endpoint(addresses[2]))
            nodes[1].transport.dial(nodes[2].endpoint(addresses[2]))
            #expect(await eventually { nodes.allSatisfy { $0.transport.connectedPeers().count == 2 } })
            for (index, node) in nodes.enumerated() {
                #expect(try node.transport.broadcast(vote(UInt64(index), by: node.publicKey)) == 2)
            }
            #expect(await eventually { nodes.allSatisfy { $0.events.messages.count == 2 } })
            for (index, node) in nodes.enumerated() {
                let senders = Set(node.events.messages.map(\.1.key))
                #expect(senders == Set(keys.map(\.publicKey)).subtracting([keys[index].publicKey]))
            }
        }

        @Test func largePayloadsAreCompressedWhenItPaysAndArriveIntact() async throws {
            let a = try TestNode()
            let b = try TestNode(admitting: [a.publicKey])
            a.transport.setAdmittedPeerKeys([b.publicKey])
            defer { a.transport.shutdown(); b.transport.shutdown() }
            let address = try b.transport.listen(host: "127.0.0.1", port: 0, channel: .peer)
            a.transport.dial(b.endpoint(address))
            #expect(await eventually { a.transport.connectedPeers().count == 1 })
            let compressible = transaction(1, body: Array(String(repeating: "consent granted to ", count: 2000).utf8.prefix(60_000)))
            var random = SplitMix64(seed: 7)
            // Random through and through (signer and signature too), so deflate cannot shrink it.
            let incompressible = Message.transaction(
                Transaction(
                    txType: 1, signer: Bytes32(random.bytes(32))!, nonce: 2, body: random.bytes(30_000),
                    signature: Bytes64(random.bytes(64))!))
            try a.transport.send(compressible, to: b.publicKey)
            try a.transport.send(incompressible, to: b.publicKey)
            try a.transport.send(transaction(3), to: b.publicKey)
            #expect(await eventually { b.events.messages.count == 3 })
            #expect(b.events.messages.map(\.0) == [compressible, incompressible, transaction(3)])
            let counters = a.transport.counters()
            #expect(counters.compressedFramesOut == 1)
            let bytes = counters.byMessageType[.transaction]!.bytesOut
            #expect(bytes < 60_000 / 4 + 30_000 + 3 * 100)
        }

        @Test func oversizedAndMisdirectedSendsAreRefusedAtTheCall() async throws {
            let a = try TestNode { $0.compression = .never }
            defer { a.transport.shutdown() }
            #expect(throws: NetError.self) { try a.transport.send(vote(1, by: a.publicKey), to: Ed25519.PrivateKey().publicKey) }
            let tooBig = transaction(1, body: Array(repeating: 1, count: 65_536))
            let block = Message.clientResponse(ClientResponse(requestID: 1, kind: 1, body: Array(repeating: 0, count: 10)))
            #expect(throws: NetError.self) { try a.transport.broadcast(block) }
            #expect(try a.transport.broadcast(tooBig) == 0)
        }
    }
}
