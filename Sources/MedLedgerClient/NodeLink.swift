import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire
import Synchronization

/// What a subscription receives from its connection: events, and its end.
struct SubscriptionSink: Sendable {
    let event: @Sendable (ClientEvent) -> Void
    let end: @Sendable (LedgerClientError) -> Void
}

/// One answer being waited for.
final class PendingAnswer: Sendable {
    let semaphore = DispatchSemaphore(value: 0)
    let result = Mutex<Result<ClientResponse, LedgerClientError>?>(nil)

    func resolve(_ value: Result<ClientResponse, LedgerClientError>) {
        let first = result.withLock { slot -> Bool in
            guard slot == nil else { return false }
            slot = value
            return true
        }
        if first { semaphore.signal() }
    }
}

/// The connection to one endpoint: its own ``Transport`` (so that a dial's failure is its own,
/// counted on its own counters), pipelined requests matched to answers by `request_id`, and the
/// subscriptions opened on it.
///
/// A link that loses its connection fails every outstanding request with
/// ``ClientError/connectionLost(endpoint:reason:)`` and ends its subscriptions; the next request
/// dials again.
final class NodeLink: Sendable {
    let endpoint: ClientEndpoint
    let chainID: String
    let transportKey: Ed25519.PrivateKey
    let logger: Logger

    struct State {
        var transport: Transport?
        /// Bumped for every new transport, so events of a transport being shut down are ignored.
        var generation = 0
        var connection: ConnectionID?
        var closedReason: String?
        var pending: [UInt64: PendingAnswer] = [:]
        var subscriptions: [UInt64: SubscriptionSink] = [:]
    }

    let state = Mutex(State())
    /// One dial at a time.
    let dialGate = DispatchSemaphore(value: 1)

    init(endpoint: ClientEndpoint, chainID: String, transportKey: Ed25519.PrivateKey, logger: Logger) {
        self.endpoint = endpoint
        self.chainID = chainID
        self.transportKey = transportKey
        self.logger = logger
    }

    var isConnected: Bool { state.withLock { $0.connection != nil } }

    /// Connects unless connected. Fails fast on a refused or failed dial (the transport counts it)
    /// and after `timeout` otherwise.
    func connect(timeout: Duration) throws(LedgerClientError) {
        if isConnected { return }
        dialGate.wait()
        defer { dialGate.signal() }
        if isConnected { return }
        let transport: Transport
        let generation: Int
        do {
            var configuration = TransportConfiguration(chainID: chainID, nodeKey: transportKey, admittedPeerKeys: [])
            configuration.connectTimeout = timeout
            configuration.handshakeTimeout = timeout
            generation = state.withLock { state in
                state.generation += 1
                return state.generation
            }
            transport = try Transport(configuration: configuration, logger: logger) { [weak self] event in
                self?.handle(event, generation: generation)
            }
        } catch {
            throw .unreachable([.init(endpoint: endpoint.shortDescription, reason: "cannot start a connection: \(error)")])
        }
        let old = state.withLock { state -> Transport? in
            let old = state.transport
            state.transport = transport
            state.closedReason = nil
            return old
        }
        old?.shutdown()
        let nodeKey: Ed25519.PublicKey
        do {
            nodeKey = try Ed25519.PublicKey(bytes: endpoint.nodeKey.bytes)
        } catch {
            throw .invalidArgument("\(endpoint.shortDescription): the node key is not a valid Ed25519 public key")
        }
        transport.dial(PeerEndpoint(host: endpoint.host, port: endpoint.port, key: nodeKey, channel: .client))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isConnected { return }
            let counters = transport.counters()
            let failures = counters.dialFailures.merging(counters.refusals, uniquingKeysWith: +)
                .merging(counters.remoteCloses, uniquingKeysWith: +).merging(counters.drops, uniquingKeysWith: +)
            if !failures.isEmpty, !isConnected {
                drop(transport)
                throw .unreachable([.init(endpoint: endpoint.shortDescription, reason: Self.explain(failures.keys.sorted()))])
            }
            usleepDuration(.milliseconds(5))
        }
        if isConnected { return }
        drop(transport)
        throw .unreachable([
            .init(endpoint: endpoint.shortDescription, reason: "no connection within \(timeout) (the host may be down or filtered)")
        ])
    }

    static func explain(_ reasons: [String]) -> String {
        let text = reasons.joined(separator: ", ")
        if reasons.contains("connection_refused") { return "\(text): nothing listens on that port" }
        if reasons.contains(where: { $0.contains("not_admitted") || $0.contains("key") || $0.contains("auth") }) {
            return "\(text): the node did not prove the expected node key (check node_key in its facility.json)"
        }
        if reasons.contains("wrong_chain") { return "\(text): the node is on another chain (check the genesis)" }
        return "\(text): the connection failed"
    }

    private func drop(_ transport: Transport) {
        state.withLock { state in
            if state.transport === transport {
                state.transport = nil
                state.connection = nil
            }
        }
        transport.shutdown()
    }

    /// Closes the connection; outstanding requests fail and subscriptions end.
    func close() {
        let (transport, pending, subscriptions) = state.withLock { state in
            let established = state.subscriptions.filter { state.pending[$0.key] == nil }.map(\.value)
            let result = (state.transport, Array(state.pending.values), established)
            state.transport = nil
            state.connection = nil
            state.generation += 1
            state.pending = [:]
            state.subscriptions = [:]
            state.closedReason = "closed by the client"
            return result
        }
        if let transport {
            transport.shutdown()
            // Let the connection say goodbye and release its socket before the caller goes on
            // (a process that exits right after closing must not race its own connection queues).
            let deadline = ContinuousClock.now + .seconds(1)
            while transport.counters().openConnections > 0, ContinuousClock.now < deadline { usleepDuration(.milliseconds(2)) }
        }
        let error = LedgerClientError.connectionLost(endpoint: endpoint.shortDescription, reason: "closed by the client")
        for answer in pending { answer.resolve(.failure(error)) }
        for sink in subscriptions { sink.end(error) }
    }

    /// Sends a request and returns the handle its answer will resolve; nothing is waited for.
    func send(_ request: ClientRequest, subscription: SubscriptionSink? = nil) throws(LedgerClientError) -> PendingAnswer {
        let answer = PendingAnswer()
        let target = state.withLock { state -> (Transport, ConnectionID)? in
            guard let transport = state.transport, let connection = state.connection else { return nil }
            state.pending[request.requestID] = answer
            if let subscription { state.subscriptions[request.requestID] = subscription }
            return (transport, connection)
        }
        guard let (transport, connection) = target else {
            throw .connectionLost(endpoint: endpoint.shortDescription, reason: "not connected")
        }
        do {
            try transport.send(.clientRequest(request), on: connection)
        } catch {
            state.withLock { state in
                state.pending[request.requestID] = nil
                state.subscriptions[request.requestID] = nil
            }
            throw .connectionLost(endpoint: endpoint.shortDescription, reason: "the request could not be sent: \(error)")
        }
        return answer
    }

    /// Waits for `answer` up to `timeout`; forgets it either way.
    func wait(_ answer: PendingAnswer, id: UInt64, timeout: Duration, what: String) throws(LedgerClientError) -> ClientResponse {
        let signalled = answer.semaphore.wait(timeout: .now() + .nanoseconds(Int(clamping: timeout.nanoseconds))) == .success
        state.withLock { _ = $0.pending.removeValue(forKey: id) }
        guard signalled, let result = answer.result.withLock({ $0 }) else {
            state.withLock { _ = $0.subscriptions.removeValue(forKey: id) }
            throw .timeout(what: "\(what) at \(endpoint.shortDescription)", after: timeout)
        }
        return try result.get()
    }

    /// Forgets a subscription (after `unsubscribe`, or when its consumer went away).
    func removeSubscription(_ id: UInt64) {
        state.withLock { _ = $0.subscriptions.removeValue(forKey: id) }
    }

    // MARK: Events

    private func handle(_ event: TransportEvent, generation: Int) {
        switch event {
        case .connected(let peer):
            state.withLock { state in
                guard state.generation == generation else { return }
                state.connection = peer.connectionID
            }
        case .message(.clientResponse(let response), _):
            let answer = state.withLock { $0.generation == generation ? $0.pending.removeValue(forKey: response.requestID) : nil }
            answer?.resolve(.success(response))
        case .message(.clientError(let error), _):
            let (answer, sink) = state.withLock { state -> (PendingAnswer?, SubscriptionSink?) in
                guard state.generation == generation else { return (nil, nil) }
                return (state.pending.removeValue(forKey: error.requestID), state.subscriptions.removeValue(forKey: error.requestID))
            }
            let refusal = LedgerClientError.refused(code: error.code, name: LedgerClientError.codeName(error.code), reason: error.message)
            if let answer {
                answer.resolve(.failure(refusal))
            } else {
                sink?.end(refusal)
            }
        case .message(.clientEvent(let event), _):
            let sink = state.withLock { $0.generation == generation ? $0.subscriptions[event.subscriptionID] : nil }
            sink?.event(event)
        case .message:
            break
        case .disconnected(let peer, let reason):
            let (pending, subscriptions, transport) = state.withLock {
                state -> ([PendingAnswer], [SubscriptionSink], Transport?) in
                guard state.generation == generation, state.connection == peer.connectionID else { return ([], [], nil) }
                // A subscription whose request is still unanswered is not ended: its request fails
                // over to another endpoint with a sink of its own.
                let established = state.subscriptions.filter { state.pending[$0.key] == nil }.map(\.value)
                let result = (Array(state.pending.values), established, state.transport)
                state.connection = nil
                state.transport = nil
                state.pending = [:]
                state.subscriptions = [:]
                state.closedReason = "\(reason)"
                return result
            }
            transport?.shutdown()
            let error = LedgerClientError.connectionLost(endpoint: endpoint.shortDescription, reason: "\(reason)")
            for answer in pending { answer.resolve(.failure(error)) }
            for sink in subscriptions { sink.end(error) }
        }
    }
}

/// Sleeps the calling thread.
func usleepDuration(_ duration: Duration) {
    let microseconds = max(0, duration.nanoseconds / 1_000)
    var remaining = timespec(tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1_000)
    var left = timespec()
    while nanosleep(&remaining, &left) != 0 { remaining = left }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : product &+ attoseconds / 1_000_000_000
    }
}

#if canImport(Glibc)
    import Glibc
#endif
