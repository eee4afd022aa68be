import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire
import Synchronization

/// A client of MedLedger nodes' client ports (Protocol/CLIENT.md): connect with failover, sign
/// and submit transactions, query with paging, check state proofs against the genesis, store and
/// fetch encrypted records, subscribe to a patient's audit events.
///
/// Calls block the calling thread until the answer comes (or the per-request timeout passes), and
/// may be made from many threads at once: requests on one connection are pipelined and matched to
/// their answers by `request_id`. Do not call from a Swift concurrency task that must not block;
/// wrap the call in a detached task or a dispatch queue there.
///
/// ```swift
/// let client = try LedgerClient(configuration: ClientConfiguration(genesis: genesis, endpoints: endpoints))
/// let alice = PartyKeys.generate()
/// let registration = TransactionBody.registerPatient(.attested(
///     patient: alice.id, encryptionKey: alice.encryptionKey!, by: facilityOrganisationKey, chainID: genesis.chainID))
/// let submitted = try client.submit(registration, signedBy: alice.signing)
/// let height = try client.waitForCommit(submitted.transaction)
/// ```
///
/// Every request is signed by the party it speaks for; requests anyone may make (`status`) are
/// signed by the client's own throwaway key, which is also its transport identity.
public final class LedgerClient: Sendable {
    /// Where the client connects and how long it waits.
    public let configuration: ClientConfiguration
    /// The genesis validators: every state proof's commit certificate is checked against them.
    public let validators: ValidatorSet
    let links: [NodeLink]
    /// The throwaway key of the transport handshake and of anonymous requests.
    let anonymous: Ed25519.PrivateKey
    let logger: Logger

    struct State {
        var preferred = 0
        var nextRequestID: UInt64 = 1
        var nonces = NonceBook()
        /// The facility (organisation key) each endpoint's node serves, once asked.
        var facilities: [Int: Bytes32] = [:]
    }

    let state = Mutex(State())

    /// Creates a client; nothing is dialled until the first request.
    ///
    /// - Throws: ``ClientError/invalidArgument(_:)`` without endpoints or with a genesis whose
    ///   validator set is not valid.
    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "medledger.client")) throws(LedgerClientError) {
        guard !configuration.endpoints.isEmpty else {
            throw .invalidArgument("no node to connect to: give at least one endpoint (host:port@nodekey)")
        }
        do {
            validators = try configuration.genesis.validatorSet
        } catch {
            throw .invalidArgument("the genesis is not valid: \(error.reason); use the network's genesis.json unchanged")
        }
        self.configuration = configuration
        self.logger = logger
        let anonymous = Ed25519.PrivateKey()
        self.anonymous = anonymous
        links = configuration.endpoints.map {
            NodeLink(endpoint: $0, chainID: configuration.chainID, transportKey: anonymous, logger: logger)
        }
    }

    deinit { close() }

    /// Closes every connection: outstanding requests fail and subscriptions end.
    public func close() {
        for link in links { link.close() }
    }

    /// The chain id of the genesis.
    public var chainID: String { configuration.chainID }

    // MARK: Requests

    /// Where a request goes.
    enum Route {
        /// The preferred endpoint, then the others in turn when one cannot be reached.
        case any
        /// One endpoint (the custodian's node, a holder of a record); sent again once on a new
        /// connection if the connection ends before the answer.
        case endpoint(Int)
    }

    /// A signed request for `kind`, stamped now.
    func signedRequest(_ kind: ClientRequestKind, body: [UInt8], signer: Ed25519.PrivateKey) -> SignedRequest {
        var request = SignedRequest(
            kind: kind.rawValue, signer: signer.publicKey.wire, timestamp: Self.nowMilliseconds(), body: body,
            signature: Bytes64(repeating: 0))
        request.signature = Bytes64(signer.signature(for: .clientRequest, chainID: chainID, message: request.signedBytes).bytes)!
        return request
    }

    func nextRequestID() -> UInt64 {
        state.withLock { state in
            defer { state.nextRequestID += 1 }
            return state.nextRequestID
        }
    }

    /// The order in which endpoints are tried for `route`.
    func order(for route: Route) -> [Int] {
        switch route {
        case .endpoint(let index): return [index, index]
        case .any:
            let first = state.withLock { $0.preferred }
            return (0..<links.count).map { (first + $0) % links.count }
        }
    }

    /// Sends one request and waits for its answer, failing over along `route`.
    ///
    /// A connection that cannot be made, or that ends before the answer comes, moves the request
    /// to the next endpoint (every request kind is safe to repeat: CLIENT.md sections 2 and 5). A
    /// refusal is returned as it is. A timeout closes that connection, so that the next request
    /// starts on the next endpoint, and is thrown. A node that answers `busy` (CLIENT.md section 6)
    /// is asked again after 100, 200 and 400 ms before the refusal is thrown.
    func call(
        _ kind: ClientRequestKind, body: [UInt8], signer: Ed25519.PrivateKey? = nil, route: Route = .any,
        timeout: Duration? = nil
    ) throws(LedgerClientError) -> (response: ClientResponse, endpoint: Int) {
        var delay = Duration.milliseconds(100)
        while true {
            do throws(LedgerClientError) {
                let exchange = try self.exchange(kind, body: body, signer: signer, route: route, timeout: timeout)
                return (exchange.response, exchange.endpoint)
            } catch .refused(let code, let name, let reason) {
                guard code == LedgerError.Code.busy.rawValue, delay <= .milliseconds(400) else {
                    throw .refused(code: code, name: name, reason: reason)
                }
                usleepDuration(delay)
                delay *= 2
            }
        }
    }

    /// An answered request: the answer, the endpoint that gave it, the request id it had.
    struct Exchange {
        var response: ClientResponse
        var endpoint: Int
        var requestID: UInt64
    }

    /// ``call(_:body:signer:route:timeout:)``, also registering a subscription's sink (made for
    /// the request id) on the connection before the request is sent.
    func exchange(
        _ kind: ClientRequestKind, body: [UInt8], signer: Ed25519.PrivateKey? = nil, route: Route = .any,
        timeout: Duration? = nil, subscription: ((UInt64) -> SubscriptionSink)? = nil
    ) throws(LedgerClientError) -> Exchange {
        let request = signedRequest(kind, body: body, signer: signer ?? anonymous)
        let timeout = timeout ?? configuration.requestTimeout
        var failures: [LedgerClientError.EndpointFailure] = []
        for index in order(for: route) {
            let link = links[index]
            do throws(LedgerClientError) {
                try link.connect(timeout: configuration.connectTimeout)
            } catch .unreachable(let reasons) {
                failures += reasons
                // One endpoint asked for: a dial that failed is not tried again at once.
                if case .endpoint = route { break }
                continue
            }
            let id = nextRequestID()
            do throws(LedgerClientError) {
                let pending = try link.send(ClientRequest(requestID: id, request: request), subscription: subscription?(id))
                let response = try link.wait(pending, id: id, timeout: timeout, what: kind.description)
                guard response.kind == kind.rawValue else {
                    link.removeSubscription(id)
                    throw LedgerClientError.badAnswer("a \(kind) request was answered as kind \(response.kind)")
                }
                if case .any = route { state.withLock { $0.preferred = index } }
                return Exchange(response: response, endpoint: index, requestID: id)
            } catch .connectionLost(let endpoint, let reason) {
                failures.append(.init(endpoint: endpoint, reason: "the connection ended: \(reason)"))
                continue
            } catch .timeout(let what, let after) {
                link.close()
                if case .any = route { state.withLock { $0.preferred = (index + 1) % links.count } }
                throw .timeout(what: what, after: after)
            }
        }
        throw .unreachable(failures)
    }

    /// Decodes an answer body strictly.
    func decode<T: WireCodable>(_ type: T.Type, _ response: ClientResponse, _ kind: ClientRequestKind) throws(LedgerClientError) -> T {
        do {
            return try T(canonicalBytes: response.body)
        } catch {
            throw .badAnswer("the \(kind) answer does not decode: \(error)")
        }
    }

    // MARK: Status

    /// The node's head, chain and facility (`status`).
    ///
    /// - Parameter endpoint: ask this endpoint (an index into ``ClientConfiguration/endpoints``);
    ///   by default the preferred one, failing over to the others.
    public func status(endpoint: Int? = nil) throws(LedgerClientError) -> StatusAnswer {
        if let endpoint, !links.indices.contains(endpoint) {
            throw .invalidArgument("there is no endpoint \(endpoint) (the client has \(links.count))")
        }
        let (response, index) = try call(.status, body: [], route: endpoint.map { .endpoint($0) } ?? .any)
        let answer = try decode(StatusAnswer.self, response, .status)
        guard answer.chainID == chainID else {
            throw .badAnswer("the node at \(links[index].endpoint.shortDescription) is on chain \(answer.chainID), not \(chainID)")
        }
        state.withLock { $0.facilities[index] = answer.facility }
        return answer
    }

    /// The index of an endpoint whose node serves `facility` (its organisation key), asking the
    /// nodes' status where not known yet.
    ///
    /// - Throws: ``ClientError/invalidArgument(_:)`` if no endpoint serves it, naming the facility.
    public func endpoint(servingFacility facility: Bytes32) throws(LedgerClientError) -> Int {
        if let known = state.withLock({ $0.facilities.first { $0.value == facility }?.key }) { return known }
        var failures: [String] = []
        for index in links.indices where state.withLock({ $0.facilities[index] == nil }) {
            do {
                if try status(endpoint: index).facility == facility { return index }
            } catch {
                failures.append("\(links[index].endpoint.shortDescription): \(error)")
            }
        }
        let name = configuration.genesis.facilities.first { $0.organisationKey == facility }?.name ?? facility.hex
        throw .invalidArgument(
            "no endpoint is a node of \(name), the facility this request must go to"
                + (failures.isEmpty ? "" : " (not reachable: \(failures.joined(separator: "; ")))")
                + "; add that facility's node (--connect host:port@nodekey, or --node HOME)")
    }

    /// Milliseconds since the Unix epoch: request timestamps (checked within 300 s by the node).
    static func nowMilliseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
    import Glibc
#endif
