import MedLedgerCrypto
import MedLedgerWire
import Testing

import MedLedgerNet

@Suite struct OutboundQueueTests {
    func item(_ type: MessageType, bytes: Int = 10) -> OutboundItem {
        OutboundItem(type: type, trafficClass: TrafficClass(type), body: Array(repeating: 0, count: bytes), compressed: false)
    }

    @Test func higherClassesLeaveFirstAndEachLaneKeepsItsOrder() {
        var queue = OutboundQueue(maxBytes: 1 << 20, maxFrames: 100, maxGossipBytes: 1 << 20)
        let pushed: [MessageType] = [.transaction, .blockResponse, .vote, .transaction, .proposal, .status, .ping]
        for (index, type) in pushed.enumerated() {
            #expect(queue.push(item(type, bytes: index + 1)) == .queued)
        }
        var popped: [(MessageType, Int)] = []
        while let next = queue.pop() { popped.append((next.type, next.body.count)) }
        #expect(popped.map(\.0) == [.ping, .vote, .proposal, .blockResponse, .status, .transaction, .transaction])
        #expect(popped.map(\.1) == [7, 3, 5, 2, 6, 1, 4])
        #expect(queue.isEmpty && queue.byteCount == 0)
    }

    @Test func limitsInFramesAndBytesReportFullButDisconnectAlwaysFits() {
        var byFrames = OutboundQueue(maxBytes: 1 << 20, maxFrames: 3, maxGossipBytes: 1 << 20)
        for _ in 0..<3 { #expect(byFrames.push(item(.vote)) == .queued) }
        #expect(byFrames.push(item(.vote)) == .full)
        #expect(byFrames.push(item(.pong)) == .full)
        #expect(byFrames.push(item(.disconnect)) == .queued)

        let frameSize = 16 + 100 + 16
        var byBytes = OutboundQueue(maxBytes: 2 * frameSize, maxFrames: 100, maxGossipBytes: 2 * frameSize)
        #expect(byBytes.push(item(.block, bytes: 100)) == .queued)
        #expect(byBytes.push(item(.block, bytes: 100)) == .queued)
        #expect(byBytes.push(item(.block, bytes: 100)) == .full)
        _ = byBytes.pop()
        #expect(byBytes.push(item(.block, bytes: 100)) == .queued)
    }

    @Test func gossipOverItsBudgetIsDroppedWhileConsensusStillQueues() {
        var queue = OutboundQueue(maxBytes: 10_000, maxFrames: 100, maxGossipBytes: 300)
        #expect(queue.push(item(.transaction, bytes: 200)) == .queued)
        #expect(queue.push(item(.transaction, bytes: 200)) == .droppedGossip)
        #expect(queue.push(item(.vote, bytes: 200)) == .queued)
        #expect(queue.frameCount == 2)
    }

    @Test func classesFollowTheMessageType() {
        #expect(TrafficClass(.vote) == .consensus && TrafficClass(.proposal) == .consensus && TrafficClass(.evidence) == .consensus)
        #expect(TrafficClass(.block) == .blockSync && TrafficClass(.blockResponse) == .blockSync)
        #expect(TrafficClass(.transaction) == .transactionGossip)
        #expect(TrafficClass(.ping) == .control)
        #expect(TrafficClass.consensus < TrafficClass.blockSync && TrafficClass.blockSync < TrafficClass.transactionGossip)
    }
}

@Suite struct BackoffTests {
    @Test func delaysDoubleUpToTheCapAndJitterOnlyShortensThem() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0.5)
        let full = (0..<8).map { backoff.delay(attempt: $0, unit: 0) }
        #expect(full == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2), .seconds(2)])
        #expect(backoff.delay(attempt: 3, unit: 0.999_999) > .milliseconds(400))
        #expect(backoff.delay(attempt: 3, unit: 0.5) == .milliseconds(600))
        for attempt in 0..<10 {
            for _ in 0..<50 {
                let delay = backoff.delay(attempt: attempt)
                #expect(delay <= full[min(attempt, 7)] && delay >= full[min(attempt, 7)] / 2)
            }
        }
        #expect(backoff.delay(attempt: 1_000_000, unit: 0) == .seconds(2))
    }

    @Test func jitterSpreadsNodesThatStartTogether() {
        let delays = Set((0..<20).map { _ in Backoff.default.delay(attempt: 2) })
        #expect(delays.count > 10)
    }
}

@Suite struct SocketAddressTests {
    @Test func numericAddressesParseAndPrint() throws {
        let v4 = try #require(SocketAddress(numericHost: "127.0.0.1", port: 7000))
        #expect(v4.description == "127.0.0.1:7000" && !v4.isIPv6)
        let v6 = try #require(SocketAddress(numericHost: "[::1]", port: 80))
        #expect(v6.description == "[::1]:80" && v6.isIPv6)
        #expect(SocketAddress(numericHost: "not-an-address", port: 1) == nil)
        #expect(try SocketAddress.resolve("localhost", port: 9).contains { $0.port == 9 })
        #expect(throws: NetError.self) { try SocketAddress.resolve("no-such-host.invalid", port: 9) }
    }

    @Test func configurationOutOfRangeIsRefused() {
        var configuration = TransportConfiguration(chainID: "c", nodeKey: Ed25519.PrivateKey(), admittedPeerKeys: [])
        configuration.maxQueuedBytes = 100
        #expect(throws: NetError.self) { try Transport(configuration: configuration) { _ in } }
        configuration.maxQueuedBytes = 1 << 20
        configuration.tickInterval = .zero
        #expect(throws: NetError.self) { try Transport(configuration: configuration) { _ in } }
    }
}
