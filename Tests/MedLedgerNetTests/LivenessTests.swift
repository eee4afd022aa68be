import Foundation
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Testing

extension Loopback {
    @Suite struct Liveness {
        @Test func aPeerFloodingPingsWithoutReadingThePongsIsDisconnected() async throws {
            let responder = try Responder { $0.maxQueuedFrames = 256 }
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            raw.shrinkReceiveBuffer()
            try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            var sent = 0
            flood: for _ in 0..<200 {
                var batch: [UInt8] = []
                for nonce in 0..<1000 { batch += try raw.seal(.ping(Ping(nonce: UInt64(nonce)))).bytes }
                guard raw.write(batch) else { break flood }
                sent += 1000
            }
            #expect(sent < 200_000, "the flood must be cut off")
            #expect(await eventually { responder.counters.drops["queue_full"] == 1 })
            #expect(responder.node.events.disconnected.first?.1.name == "queue_full")
        }

        @Test func aPeerThatDoesNotReadIsDroppedWhenItsQueueFills() async throws {
            let responder = try Responder { $0.maxQueuedBytes = 1024 * 1024 }
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            raw.shrinkReceiveBuffer()
            try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            var random = SplitMix64(seed: 11)
            let block = transaction(1, body: random.bytes(60_000))
            var sends = 0
            while sends < 1000, (try? responder.node.transport.send(block, to: responder.admittedKey.publicKey, as: .blockSync)) != nil {
                sends += 1
                if sends % 50 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(await eventually { responder.counters.drops["queue_full"] == 1 })
            #expect(responder.node.transport.connectedPeers().isEmpty)
        }

        @Test func aStalledReaderIsDroppedAfterTheWriteStallTimeout() async throws {
            let responder = try Responder { $0.writeStallTimeout = .milliseconds(300) }
            defer { responder.node.transport.shutdown() }
            let raw = try RawPeer(to: responder.address)
            raw.shrinkReceiveBuffer()
            try raw.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.events.connected.count == 1 })
            var random = SplitMix64(seed: 11)
            let block = transaction(1, body: random.bytes(60_000))
            for _ in 0..<150 { try responder.node.transport.send(block, to: responder.admittedKey.publicKey, as: .blockSync) }
            #expect(await eventually { responder.counters.drops["write_stall"] == 1 })
        }

        @Test func aSilentPeerIsDroppedAtThePingTimeoutWhileALivelyOneStays() async throws {
            let fast: (inout TransportConfiguration) -> Void = {
                $0.pingInterval = .milliseconds(50)
                $0.pingTimeout = .milliseconds(250)
            }
            let responder = try Responder(fast)
            let lively = try TestNode(admitting: [responder.node.publicKey], fast)
            responder.node.transport.setAdmittedPeerKeys([responder.admittedKey.publicKey, lively.publicKey])
            defer { responder.node.transport.shutdown(); lively.transport.shutdown() }
            lively.transport.dial(responder.node.endpoint(responder.address))
            let silent = try RawPeer(to: responder.address)
            try silent.handshake(key: responder.admittedKey)
            #expect(await eventually { responder.node.transport.connectedPeers().count == 2 })
            #expect(await eventually { responder.counters.drops["ping_timeout"] == 1 })
            try await Task.sleep(for: .milliseconds(600))
            #expect(responder.node.transport.connectedPeers().map(\.key) == [lively.publicKey])
            let counters = responder.node.transport.counters()
            #expect((counters.byMessageType[.pong]?.framesIn ?? 0) >= 4)
            #expect((counters.byMessageType[.ping]?.framesOut ?? 0) >= 4)
        }

        @Test func aConfiguredPeerIsRedialledWithBackoffAfterItRestarts() async throws {
            let bKey = Ed25519.PrivateKey()
            let a = try TestNode(admitting: [bKey.publicKey])
            var b = try TestNode(key: bKey, admitting: [a.publicKey])
            defer { a.transport.shutdown() }
            let address = try b.transport.listen(host: "::1", port: 0, channel: .peer)
            a.transport.addPeer(b.endpoint(address))
            #expect(await eventually { a.events.connected.count == 1 })

            b.transport.shutdown()
            #expect(await eventually { a.events.disconnected.count == 1 })
            #expect(await eventually { (a.transport.counters().dialFailures["connection_refused"] ?? 0) >= 3 })
            let failuresWhileDown = a.transport.counters().dialAttempts

            b = try TestNode(key: bKey, admitting: [a.publicKey])
            defer { b.transport.shutdown() }
            var rebound = false
            for _ in 0..<100 where !rebound {
                rebound = (try? b.transport.listen(host: "::1", port: address.port, channel: .peer)) != nil
                if !rebound { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(rebound)
            #expect(await eventually { a.events.connected.count == 2 && b.events.connected.count == 1 })
            try a.transport.send(vote(9, by: a.publicKey), to: bKey.publicKey)
            #expect(await eventually { b.events.messages.count == 1 })
            // Backoff (50 ms doubling to 400 ms): a handful of attempts in the outage, not hundreds.
            #expect(failuresWhileDown < 30)
        }

        @Test func descriptorsAreAllReleasedAfterTwoThousandConnections() async throws {
            // Only this test's sockets are counted (by port): other suites use sockets meanwhile.
            var ports: Set<UInt16> = []
            do {
                let responder = try Responder()
                ports.insert(responder.address.port)
                let dialer = try TestNode(key: responder.admittedKey, admitting: [responder.node.publicKey])
                defer { responder.node.transport.shutdown(); dialer.transport.shutdown() }
                // 1,200 raw connects that close at once, some before and some after sending a byte.
                for index in 0..<1200 {
                    let raw = try RawPeer(to: responder.address)
                    if index % 2 == 0 { raw.write([0x4D]) }
                }
                // The burst may pass the pending-handshake limit (refused as too_many_connections);
                // let the responder see every close before the handshakes start.
                // (Accepts trail the connects: wait for all 1,200, not only for no open connection.)
                #expect(await eventually(timeout: .seconds(20)) { responder.counters.accepted == 1200 && responder.counters.openConnections == 0 })
                #expect(responder.counters.accepted == 1200, "\(responder.counters)")
                // 300 full handshakes, each closed by the dialer.
                for round in 0..<300 {
                    dialer.transport.dial(responder.node.endpoint(responder.address))
                    let ok = await eventually { dialer.events.connected.count == round + 1 }
                    #expect(ok, "round \(round): dialer \(dialer.transport.counters()), responder \(responder.counters)")
                    if !ok { break }
                    dialer.transport.close(dialer.events.connected[round].connectionID)
                    // Until the responder has seen the close, a new connection would be a duplicate.
                    #expect(await eventually { responder.counters.establishedConnections == 0 })
                }
                // 500 dials to a port nobody listens on.
                let closedPort = try {
                    let probe = try TestNode()
                    let address = try probe.transport.listen(host: "127.0.0.1", port: 0, channel: .peer)
                    probe.transport.shutdown()
                    return address
                }()
                ports.insert(closedPort.port)
                try await Task.sleep(for: .milliseconds(50))
                for _ in 0..<500 { dialer.transport.dial(responder.node.endpoint(closedPort)) }
                #expect(await eventually(timeout: .seconds(20)) { (dialer.transport.counters().dialFailures["connection_refused"] ?? 0) == 500 })
                #expect(await eventually(timeout: .seconds(20)) { responder.counters.accepted == 1500 && responder.counters.openConnections == 0 })
                #expect(responder.counters.established == 300)
            }
            #expect(await eventually(timeout: .seconds(10)) { openSocketCount(ports: ports) == 0 }, "sockets still open: \(openSocketCount(ports: ports))")
        }
    }
}
