import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire
import Synchronization

/// A blocking client of a node's client port: the requests this node answers so far
/// (`submit_transaction`, `status`; Protocol/LEDGER.md section 6). The client library of issue 9
/// grows from this.
public final class NodeClient: Sendable {
    public enum SubmitResult: Sendable, Equatable {
        case inMempool
        case committed(height: UInt64)
        case rejected(code: UInt16, reason: String)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// The `CLIENT_ERROR` code when the node refused the request (Protocol/CLIENT.md section 6,
        /// LEDGER.md section 8); nil for a failure of the connection or of decoding.
        public let code: UInt16?
        init(_ description: String, code: UInt16? = nil) {
            self.description = description
            self.code = code
        }
    }

    struct State {
        var connection: ConnectionID?
        var closed: String?
        var nextID: UInt64 = 1
        var answers: [UInt64: Result<ClientResponse, Failure>] = [:]
        var waiting: [UInt64: DispatchSemaphore] = [:]
        /// Called with every `CLIENT_EVENT` (``onEvent(_:)``).
        var onEvent: (@Sendable (ClientEvent) -> Void)?
        /// Answers awaited by ``request(kind:body:completion:)``.
        var callbacks: [UInt64: @Sendable (Result<ClientResponse, Failure>) -> Void] = [:]
    }

    public let chainID: String
    let key: Ed25519.PrivateKey
    let transport: Transport
    final class Shared: Sendable {
        let state = Mutex(State())

        /// Hands an answer to whoever waits for it: a callback, or a blocked ``request(kind:body:)``.
        func answer(_ id: UInt64, _ result: Result<ClientResponse, Failure>) {
            let (waiter, callback) = state.withLock { state in
                if let callback = state.callbacks.removeValue(forKey: id) { return (DispatchSemaphore?.none, Optional(callback)) }
                state.answers[id] = result
                return (state.waiting.removeValue(forKey: id), nil)
            }
            waiter?.signal()
            callback?(result)
        }
    }

    let shared = Shared()
    let connected = DispatchSemaphore(value: 0)
    let timeout: Duration

    /// Connects to the client port at `host:port` of the node whose node key is `nodeKey`, as
    /// `key` (requests are signed with it).
    public init(
        chainID: String, host: String, port: UInt16, nodeKey: Ed25519.PublicKey, key: Ed25519.PrivateKey,
        timeout: Duration = .seconds(10), logger: Logger = Logger(label: "medledger.client")
    ) throws {
        self.chainID = chainID
        self.key = key
        self.timeout = timeout
        let shared = self.shared
        let connected = self.connected
        transport = try Transport(configuration: TransportConfiguration(chainID: chainID, nodeKey: key, admittedPeerKeys: []), logger: logger) { event in
            switch event {
            case .connected(let peer):
                shared.state.withLock { $0.connection = peer.connectionID }
                connected.signal()
            case .message(.clientResponse(let response), _):
                shared.answer(response.requestID, .success(response))
            case .message(.clientError(let error), _):
                shared.answer(error.requestID, .failure(Failure("the node refused the request (\(error.code)): \(error.message)", code: error.code)))
            case .message(.clientEvent(let event), _):
                shared.state.withLock { $0.onEvent }?(event)
            case .disconnected(_, let reason):
                let (waiters, callbacks) = shared.state.withLock { state in
                    state.closed = "\(reason)"
                    state.connection = nil
                    defer {
                        state.waiting = [:]
                        state.callbacks = [:]
                    }
                    return (Array(state.waiting.values), Array(state.callbacks.values))
                }
                for waiter in waiters { waiter.signal() }
                for callback in callbacks { callback(.failure(Failure("the node closed the connection: \(reason)"))) }
            default:
                break
            }
        }
        transport.dial(PeerEndpoint(host: host, port: port, key: nodeKey, channel: .client))
        guard connected.wait(timeout: .now() + timeout.dispatch) == .success else {
            transport.shutdown()
            throw Failure("no connection to the node's client port \(host):\(port) within \(timeout): is the node running, and is that its client port (ports.json)?")
        }
    }

    deinit { transport.shutdown() }

    public func close() { transport.shutdown() }

    /// Sends a signed request of `kind` and waits for its answer.
    public func request(kind: UInt16, body: [UInt8]) throws -> ClientResponse {
        var request = SignedRequest(kind: kind, signer: key.publicKey.wire, timestamp: Node.now(), body: body, signature: Bytes64(repeating: 0))
        request.signature = Bytes64(key.signature(for: .clientRequest, chainID: chainID, message: request.signedBytes).bytes)!
        let semaphore = DispatchSemaphore(value: 0)
        let (id, connection, closed) = shared.state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.waiting[id] = semaphore
            return (id, state.connection, state.closed)
        }
        guard let connection else { throw Failure("the connection to the node is closed: \(closed ?? "not connected")") }
        do {
            try transport.send(.clientRequest(ClientRequest(requestID: id, request: request)), on: connection)
        } catch {
            throw Failure("the request could not be sent: \(error)")
        }
        _ = semaphore.wait(timeout: .now() + timeout.dispatch)
        let answer = shared.state.withLock { state -> Result<ClientResponse, Failure>? in
            state.waiting[id] = nil
            return state.answers.removeValue(forKey: id)
        }
        guard let answer else {
            throw Failure(shared.state.withLock { $0.closed }.map { "the node closed the connection: \($0)" } ?? "no answer within \(timeout)")
        }
        return try answer.get()
    }

    /// Sends a signed request of `kind` without waiting: `completion` gets the answer (on the
    /// transport's queue), or the failure if the connection closes first. Many requests may be
    /// in flight on one connection; answers come in the order the node sends them.
    public func request(
        kind: UInt16, body: [UInt8], completion: @escaping @Sendable (Result<ClientResponse, Failure>) -> Void
    ) {
        let (id, connection, closed) = shared.state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            if state.connection != nil { state.callbacks[id] = completion }
            return (id, state.connection, state.closed)
        }
        guard let connection else {
            return completion(.failure(Failure("the connection to the node is closed: \(closed ?? "not connected")")))
        }
        do {
            try transport.send(.clientRequest(ClientRequest(requestID: id, request: signedRequest(kind: kind, body: body))), on: connection)
        } catch {
            let callback = shared.state.withLock { $0.callbacks.removeValue(forKey: id) }
            callback?(.failure(Failure("the request could not be sent: \(error)")))
        }
    }

    /// Submits a transaction without waiting; `completion` gets what ``submit(_:)`` would return.
    public func submit(_ transaction: Transaction, completion: @escaping @Sendable (Result<SubmitResult, Failure>) -> Void) {
        request(kind: Node.RequestKind.submitTransaction.rawValue, body: transaction.canonicalBytes) { answer in
            completion(answer.flatMap { response in Result { () throws(Failure) in try Self.submitResult(response) } })
        }
    }

    func signedRequest(kind: UInt16, body: [UInt8]) -> SignedRequest {
        var request = SignedRequest(kind: kind, signer: key.publicKey.wire, timestamp: Node.now(), body: body, signature: Bytes64(repeating: 0))
        request.signature = Bytes64(key.signature(for: .clientRequest, chainID: chainID, message: request.signedBytes).bytes)!
        return request
    }

    /// Sends a signed request of `kind` and returns the answer's body (Protocol/CLIENT.md section 2).
    ///
    /// - Throws: ``Failure`` with the node's code if it answered `CLIENT_ERROR`.
    public func request(_ kind: ClientRequestKind, body: [UInt8]) throws -> [UInt8] {
        try request(kind: kind.rawValue, body: body).body
    }

    /// Calls `handler` (on the transport's thread) with every `CLIENT_EVENT` of this connection's
    /// subscriptions.
    public func onEvent(_ handler: @escaping @Sendable (ClientEvent) -> Void) {
        shared.state.withLock { $0.onEvent = handler }
    }

    /// Submits a transaction (or asks again about one): in the mempool, committed, or rejected.
    public func submit(_ transaction: Transaction) throws -> SubmitResult {
        try Self.submitResult(try request(kind: Node.RequestKind.submitTransaction.rawValue, body: transaction.canonicalBytes))
    }

    static func submitResult(_ response: ClientResponse) throws(Failure) -> SubmitResult {
        var reader = ByteReader(response.body)
        do {
            switch try reader.readU8("status") {
            case 1: return .inMempool
            case 2: return .committed(height: try reader.readU64("height"))
            case 3: return .rejected(code: try reader.readU16("code"), reason: try reader.readString(max: 1_024, "reason"))
            case let other: throw Failure("unknown submit status \(other)")
            }
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure("a malformed answer: \(error)")
        }
    }

    /// The node's head: height, block hash, block time, chain id.
    public func status() throws -> (height: UInt64, hash: Bytes32, time: UInt64, chainID: String) {
        let answer = try statusAnswer()
        return (answer.height, answer.blockHash, answer.time, answer.chainID)
    }

    /// The whole `status` answer: the head, the facility the node serves, its peers.
    public func statusAnswer() throws -> StatusAnswer {
        let body = try request(.status, body: [])
        do {
            return try StatusAnswer(canonicalBytes: body)
        } catch {
            throw Failure("a malformed status answer: \(error)")
        }
    }
}
