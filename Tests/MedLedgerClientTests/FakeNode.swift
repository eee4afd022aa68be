import Dispatch
import Foundation
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire
import Synchronization
@testable import MedLedgerClient

/// Deterministic keys from labels.
enum Keys {
    static func seed(_ label: String) -> SecureBytes { SecureBytes(SHA256.hash(Array(label.utf8)).bytes) }
    static func signing(_ label: String) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: seed("sign " + label)) }
    static func encryption(_ label: String) -> X25519.PrivateKey { try! X25519.PrivateKey(rawKey: seed("box " + label)) }
    static func party(_ label: String) -> PartyKeys { PartyKeys(signing: signing(label), encryption: encryption(label)) }
}

/// A chain of four facilities in memory, with the real ledger: blocks proposed, checked and
/// certified by all four validators, so its state proofs are the real thing.
final class MiniChain: @unchecked Sendable {
    static let chainID = "medledger-client-test"
    struct Member {
        let organisation: Ed25519.PrivateKey
        let validator: Ed25519.PrivateKey
        let record: X25519.PrivateKey
        let node: Ed25519.PrivateKey
    }

    let members: [Member]
    let genesis: Genesis
    private let lock = NSLock()
    private var _state: LedgerState
    private var lastCommit: CommitCertificate?
    private var lastBlock: CommittedBlock?
    private var committed: [Bytes32: UInt64] = [:]

    init(label: String = "mini") {
        members = (0..<4).map {
            Member(
                organisation: Keys.signing("\(label) org \($0)"), validator: Keys.signing("\(label) validator \($0)"),
                record: Keys.encryption("\(label) record \($0)"), node: Keys.signing("\(label) node \($0)"))
        }
        let kinds: [FacilityKind] = [.hospital, .dentalClinic, .laboratory, .familyPractice]
        let facilities = members.enumerated().map { index, member in
            Facility(
                name: "facility \(index)", kind: kinds[index], organisationKey: member.organisation.publicKey.wire,
                validatorKey: member.validator.publicKey.wire, nodeKey: member.node.publicKey.wire,
                recordKey: Bytes32(member.record.publicKey.bytes)!, power: 10)
        }
        genesis = try! Genesis(chainID: Self.chainID, genesisTime: 1_795_000_000_000, facilities: facilities)
        _state = try! LedgerState(genesis: genesis)
        // An empty first block, as a running chain has: proofs need a certified header.
        try! commit([])
    }

    var state: LedgerState { lock.withLock { _state } }
    func facility(_ index: Int) -> Bytes32 { members[index].organisation.publicKey.wire }

    /// Commits one block of `transactions`; returns its height.
    @discardableResult
    func commit(_ transactions: [Transaction]) throws -> UInt64 {
        try lock.withLock {
            let verified = try LedgerState.verify(transactions, chainID: Self.chainID)
            let proposer = members[Int(_state.height % 4)].validator.publicKey.wire
            let (block, _) = try _state.proposeBlock(transactions: verified, lastCommit: lastCommit, proposer: proposer)
            let checked = try _state.applying(block, verified: verified)
            let commit = certify(block.header, by: members.map(\.validator))
            _state = checked
            lastCommit = commit
            lastBlock = CommittedBlock(block: block, commit: commit)
            for transaction in transactions { committed[transaction.id] = block.header.height }
            return block.header.height
        }
    }

    func height(of transaction: Bytes32) -> UInt64? { lock.withLock { committed[transaction] } }

    /// Precommits for `header` by `validators` (their indexes are their positions in the genesis).
    func certify(_ header: BlockHeader, by validators: [Ed25519.PrivateKey]) -> CommitCertificate {
        let signatures = validators.enumerated().map { index, validator -> CommitSignature in
            let timestamp = header.time + 1000 + UInt64(index)
            let vote = Vote(
                voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                validator: validator.publicKey.wire, signature: Bytes64(repeating: 0))
            let signature = validator.signature(for: .vote, chainID: Self.chainID, message: vote.signedBytes)
            return CommitSignature(validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
        }
        return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
    }

    /// The state proof answer for `key` against the last block.
    func proofAnswer(_ key: [UInt8]) -> StateProofAnswer {
        lock.withLock {
            let (value, proof) = _state.proof(for: key)
            return StateProofAnswer(value: value, proof: proof, header: lastBlock!.block.header, certificate: lastBlock!.commit)
        }
    }
}

/// A client port served by the test: a real transport on loopback whose answers the test decides.
final class FakeNode: Sendable {
    enum Reply: Sendable {
        case answer([UInt8])
        case refuse(LedgerError.Code, String)
        /// Never answer.
        case silence
        /// Close the connection instead of answering.
        case close
    }

    let key: Ed25519.PrivateKey
    let transport: Transport
    let port: UInt16
    /// What the node saw: the requests whose answers it decided, and its connections.
    final class Recorded: Sendable {
        let requests = Mutex<[SignedRequest]>([])
        let connections = Mutex<[ConnectionID]>([])
    }

    let recorded = Recorded()

    /// - Parameter handler: the answer to each request whose signature verified; runs on the
    ///   connection's queue (or after `delay`, to answer out of order).
    init(
        key: Ed25519.PrivateKey, chainID: String = MiniChain.chainID, delay: (@Sendable (SignedRequest) -> Duration)? = nil,
        handler: @escaping @Sendable (SignedRequest) -> Reply
    ) throws {
        self.key = key
        let recorded = self.recorded
        let box = Mutex<Transport?>(nil)
        var logger = Logger(label: "fake-node")
        logger.logLevel = .critical
        let transport = try Transport(
            configuration: TransportConfiguration(chainID: chainID, nodeKey: key, admittedPeerKeys: []), logger: logger
        ) { event in
            switch event {
            case .connected(let peer):
                recorded.connections.withLock { $0.append(peer.connectionID) }
            case .message(.clientRequest(let request), let peer):
                let signed = request.request
                recorded.requests.withLock { $0.append(signed) }
                let reply: Reply
                if !signed.signer.ed25519.verifies(signed.signature, for: .clientRequest, chainID: chainID, message: signed.signedBytes) {
                    reply = .refuse(.badSignature, "the request's signature does not verify")
                } else {
                    reply = handler(signed)
                }
                let send: @Sendable () -> Void = {
                    guard let transport = box.withLock({ $0 }) else { return }
                    switch reply {
                    case .answer(let body):
                        try? transport.send(.clientResponse(ClientResponse(requestID: request.requestID, kind: signed.kind, body: body)), on: peer.connectionID)
                    case .refuse(let code, let message):
                        try? transport.send(.clientError(MedLedgerWire.ClientError(requestID: request.requestID, code: code.rawValue, message: message)), on: peer.connectionID)
                    case .silence:
                        break
                    case .close:
                        transport.close(peer.connectionID)
                    }
                }
                if let delay = delay?(signed) {
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay.components.attoseconds / 1_000_000_000 + delay.components.seconds * 1_000_000_000)), execute: send)
                } else {
                    send()
                }
            default:
                break
            }
        }
        box.withLock { $0 = transport }
        self.transport = transport
        port = try transport.listen(host: "127.0.0.1", port: 0, channel: .client).port
    }

    deinit { transport.shutdown() }

    var endpoint: ClientEndpoint { ClientEndpoint(host: "127.0.0.1", port: port, nodeKey: key.publicKey.wire) }

    /// Sends an event to every client connected.
    func broadcast(_ event: ClientEvent) {
        for connection in recorded.connections.withLock({ $0 }) { try? transport.send(.clientEvent(event), on: connection) }
    }

    func stop() { transport.shutdown() }

    /// Closes every client connection (the node stays up).
    func closeConnections() {
        for connection in recorded.connections.withLock({ $0 }) { transport.close(connection) }
    }

    /// A status answer for this node serving `facility`.
    static func status(facility: Bytes32, height: UInt64 = 3, chainID: String = MiniChain.chainID) -> [UInt8] {
        StatusAnswer(
            height: height, blockHash: Bytes32(repeating: 9), time: 1_795_000_003_000, chainID: chainID, facility: facility,
            bestPeerHeight: height, peers: 3
        ).canonicalBytes
    }
}

/// A port nothing listens on: bound, then closed.
func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

/// A client of `endpoints` with short timeouts.
func makeClient(_ chain: MiniChain, _ endpoints: [ClientEndpoint], requestTimeout: Duration = .seconds(5)) throws -> LedgerClient {
    var configuration = ClientConfiguration(genesis: chain.genesis, endpoints: endpoints)
    configuration.connectTimeout = .seconds(3)
    configuration.requestTimeout = requestTimeout
    configuration.pollInterval = .milliseconds(20)
    configuration.commitTimeout = .seconds(5)
    var logger = Logger(label: "client-test")
    logger.logLevel = .critical
    return try LedgerClient(configuration: configuration, logger: logger)
}

/// The error `body` throws, nil if it succeeds.
func failure<T>(_ body: () throws -> T) -> LedgerClientError? {
    do {
        _ = try body()
        return nil
    } catch let error as LedgerClientError {
        return error
    } catch {
        return .badAnswer("not a LedgerClientError: \(error)")
    }
}
