import DequeModule
import Dispatch
import Logging
import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerStore
import MedLedgerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A running MedLedger node: the consensus machine fed from the network and carried out against
/// the segment log, the signer state file, the ledger state and the mempool; gossip of consensus
/// messages and transactions; block sync (Protocol/CONSENSUS.md section 5 is the contract).
///
/// Everything that changes runs on one serial queue (`queue`): transport events hop onto it, and
/// timeouts fire on it. The order of durability is the contract's: a signer state is fsynced
/// before the vote it covers leaves; a decided block is fsynced in the log before it is applied
/// and before the machine moves to the next height.
public final class Node: @unchecked Sendable {
    public struct Options: Sendable {
        public var genesis: Genesis
        /// The segment log goes in `dataDirectory/log`, the signer state file in `dataDirectory`.
        public var dataDirectory: String
        public var nodeKey: Ed25519.PrivateKey
        /// Nil for an observer (follows the chain, never signs).
        public var validatorKey: Ed25519.PrivateKey?
        public var p2pHost = "127.0.0.1"
        /// 0: any free port (``p2pAddress`` says which).
        public var p2pPort: UInt16 = 0
        public var peers: [PeerEndpoint] = []
        /// The client port (any key may connect; each request is authorised by its own
        /// signature); nil: none.
        public var clientHost: String? = "127.0.0.1"
        public var clientPort: UInt16 = 0
        /// The metrics listener (`GET /metrics`, `GET /healthz`); nil: none.
        public var metricsHost: String?
        public var metricsPort: UInt16 = 0
        /// Node keys admitted on the peer port besides the genesis facilities'.
        public var observers: Set<Ed25519.PublicKey> = []
        public var timeouts = ConsensusTimeouts()
        public var mempool = Mempool.Limits()
        public var blockMaxTransactions = 1_000
        public var blockMaxBytes = 4 << 20
        /// How long a node stays at a decided height before it starts the next one: late
        /// precommits still arrive, transactions gather, and an idle chain does not spin out
        /// empty blocks (CometBFT's `timeout_commit`).
        public var commitWait: Duration = .seconds(1)
        /// How often the node tells its peers its height (and asks those ahead for blocks).
        public var statusInterval: Duration = .seconds(1)
        /// A block sync request not answered within this goes to another peer.
        public var syncTimeout: Duration = .seconds(5)
        public var keyLog: KeyLogWriter?
        /// If set, a small JSON status (height, hash, round, peers, mempool) is written there
        /// atomically on every status tick, for ops tools that do not speak the client protocol.
        public var statusFile: String?
        public var logger = Logger(label: "medledger.node")
        /// Transport settings beyond the above (timeouts, queue limits).
        public var transport: (@Sendable (inout TransportConfiguration) -> Void)?
        /// The facility's organisation key: signs the access entries of `fetch_record`. Nil (an
        /// observer, a test) answers `fetch_record` with an error.
        public var organisationKey: Ed25519.PrivateKey?
        /// The facility's record key: opens the data keys wrapped for it as custodian.
        public var recordKey: X25519.PrivateKey?
        /// Facilities after the custodian that hold a copy of each record (Protocol/CLIENT.md
        /// section 5.1); the same on every node of a chain.
        public var recordReplicas = 2
        /// Where the record ciphertext is kept; nil: `dataDirectory/blobs`.
        public var blobsDirectory: String?
        /// How often a holder asks its peers for the records it lacks.
        public var repairInterval: Duration = .seconds(60)

        public init(genesis: Genesis, dataDirectory: String, nodeKey: Ed25519.PrivateKey, validatorKey: Ed25519.PrivateKey?) {
            self.genesis = genesis
            self.dataDirectory = dataDirectory
            self.nodeKey = nodeKey
            self.validatorKey = validatorKey
        }
    }

    /// What a node reports about itself.
    public struct Status: Sendable, Hashable {
        public var height: UInt64
        public var blockHash: Bytes32
        public var round: UInt32
        public var peers: Int
        public var mempool: Int
        public var bestPeerHeight: UInt64
    }

    public let options: Options
    let logger: Logger
    let queue = DispatchQueue(label: "medledger.node")
    let log: SegmentLog
    let signerFile: SignerStateFile
    var transport: Transport!

    // Owned by `queue`.
    var machine: ConsensusMachine
    var state: LedgerState
    public private(set) var mempool: Mempool
    var lastBlock: CommittedBlock?
    var pendingEvidence: [Evidence] = []
    /// The state after each block validated at the current height, by block hash.
    var validatedStates: [Bytes32: LedgerState] = [:]
    /// Consensus messages of the current and the previous height, by signature: relayed once to
    /// every peer that does not have them, and again to a peer that reconnects.
    var seen: [Bytes64: (message: Message, height: UInt64)] = [:]
    var peerHas: [Ed25519.PublicKey: Set<Bytes64>] = [:]
    var peerConnections: [Ed25519.PublicKey: PeerInfo] = [:]
    var peerHeights: [Ed25519.PublicKey: UInt64] = [:]
    /// Blocks from sync, waiting for the machine to reach their height.
    var synced: [UInt64: CommittedBlock] = [:]
    var syncRequest: (peer: Ed25519.PublicKey, id: UInt64, deadline: DispatchTime)?
    var nextRequestID: UInt64 = 1
    var heightWaiters: [(height: UInt64, continuation: @Sendable () -> Void)] = []
    var stopped = false
    var failure: String?
    var statusTimer: DispatchSourceTimer?
    public private(set) var p2pAddress: SocketAddress?
    public private(set) var clientAddress: SocketAddress?
    /// Where `/metrics` and `/healthz` are served, if they are (Node+Health).
    public internal(set) var metricsAddress: SocketAddress?
    var metricsResponder: HTTPResponder?
    /// Owned by `queue` (its registry may be emitted from anywhere).
    let metrics = NodeMetrics()
    /// Heights of recently committed transactions, by id (bounded), to answer a client that
    /// submits again to learn whether its transaction made it.
    var committedTransactions: [Bytes32: UInt64] = [:]
    var committedOrder: [Bytes32] = []
    static let rememberedCommits = 100_000
    /// Transactions admitted from a peer, waiting to be passed on (in admission order, so in
    /// order of when they are due), and the peers each was heard from meanwhile. See ``relayDelay``.
    var relayQueue: Deque<(id: Bytes32, due: UInt64)> = []
    var relaySources: [Bytes32: Set<Ed25519.PublicKey>] = [:]
    var relayScheduled = false
    /// How long a transaction admitted from a peer waits before this node passes it on to its
    /// other peers. A client's transaction goes to every peer at once; between validators, which
    /// are all connected to each other, an immediate relay sent each transaction twice more to
    /// every node (nine frames per transaction among four nodes instead of three). Relayed late,
    /// and only while still pending, only to peers it was not heard from: in a healthy network the
    /// transaction has committed by then; in a partial one it still reaches every node.
    static let relayDelay: UInt64 = 1_000
    /// The genesis facility this node runs for (by its node key); nil for an observer.
    let facility: Facility?
    /// Record ciphertext this node holds (Protocol/CLIENT.md section 5).
    let blobs: BlobStore
    /// Subscriptions, pending uploads and fetches, replication (Node+Records, Node+Subscriptions).
    var records = RecordsState()

    /// Opens the node's data: replays the log into the ledger state and loads the signer state.
    /// Nothing listens or dials until ``start()``.
    public init(options: Options) throws {
        self.options = options
        var logger = options.logger
        logger[metadataKey: "node"] = "\(PeerInfo.shortKey(options.nodeKey.publicKey))"
        self.logger = logger
        let chainID = options.genesis.chainID
        let (log, report) = try SegmentLog.open(directory: options.dataDirectory + "/log", chainID: chainID)
        self.log = log
        if report.tornTail != nil || (report.indexRebuilt && report.lastHeight > 0) { logger.warning("log recovered", metadata: ["report": "\(report)"]) }
        var state = try LedgerState(genesis: options.genesis)
        var last: CommittedBlock?
        // The recent commits again, so that a client resubmitting after a restart of this node
        // still learns that its transaction committed (rather than a refusal as a duplicate).
        var remembered: [Bytes32: UInt64] = [:]
        var rememberedOrder: [Bytes32] = []
        if log.lastHeight > 0 {
            for height in 1...log.lastHeight {
                let block = try log.read(height: height)
                try state.validators.verify(block.commit, height: height, blockHash: block.block.header.hash, chainID: chainID)
                state = try state.applying(block.block)
                last = block
                for transaction in block.block.transactions {
                    let id = Mempool.id(of: transaction)
                    if remembered.updateValue(height, forKey: id) == nil { rememberedOrder.append(id) }
                }
                if rememberedOrder.count > 2 * Self.rememberedCommits {
                    for id in rememberedOrder.prefix(rememberedOrder.count - Self.rememberedCommits) { remembered[id] = nil }
                    rememberedOrder.removeFirst(rememberedOrder.count - Self.rememberedCommits)
                }
            }
        }
        if rememberedOrder.count > Self.rememberedCommits {
            for id in rememberedOrder.prefix(rememberedOrder.count - Self.rememberedCommits) { remembered[id] = nil }
            rememberedOrder.removeFirst(rememberedOrder.count - Self.rememberedCommits)
        }
        committedTransactions = remembered
        committedOrder = rememberedOrder
        self.state = state
        lastBlock = last
        signerFile = SignerStateFile(directory: options.dataDirectory)
        let signer = try signerFile.load().map { try SignerState(canonicalBytes: $0) } ?? .initial
        machine = ConsensusMachine(
            chainID: chainID, validators: state.validators, key: options.validatorKey, height: state.height + 1,
            lastCommit: last?.commit, lastBlockTime: state.lastBlockTime, signer: signer, timeouts: options.timeouts)
        mempool = Mempool(state: state, limits: options.mempool)
        facility = try Self.checkedFacility(options)
        blobs = try BlobStore(directory: options.blobsDirectory ?? options.dataDirectory + "/blobs")
        logger.info(
            "opened", metadata: ["height": "\(state.height)", "signer": "\(signer.height)/\(signer.round)/\(signer.step)",
                                 "role": "\(options.validatorKey.flatMap { state.validators.index(of: $0.publicKey.wire) }.map { "validator \($0)" } ?? "observer")"])
    }

    // MARK: Lifecycle

    /// Listens on the peer port, dials the configured peers and starts consensus.
    public func start() throws {
        let genesisKeys = options.genesis.facilities.compactMap { try? Ed25519.PublicKey(bytes: $0.nodeKey.bytes) }
        var configuration = TransportConfiguration(
            chainID: options.genesis.chainID, nodeKey: options.nodeKey, admittedPeerKeys: Set(genesisKeys).union(options.observers))
        configuration.keyLog = options.keyLog
        // Validators are few and a missing one costs the network its quorum: redial them at
        // least every 2 s (not the transport's 30 s), so that a healed partition commits again
        // within seconds (README, Operating a facility node: faults the cluster survives).
        configuration.redialBackoff.maximum = .seconds(2)
        options.transport?(&configuration)
        transport = try Transport(configuration: configuration, logger: logger) { [weak self] event in
            guard let self else { return }
            self.queue.async { self.handle(event) }
        }
        p2pAddress = try transport.listen(host: options.p2pHost, port: options.p2pPort, channel: .peer)
        if let host = options.clientHost {
            clientAddress = try transport.listen(host: host, port: options.clientPort, channel: .client)
        }
        try startMetricsListener()
        logger.info(
            "listening",
            metadata: ["p2p": "\(p2pAddress!)", "client": "\(clientAddress.map { "\($0)" } ?? "none")", "metrics": "\(metricsAddress.map { "\($0)" } ?? "none")"])
        for peer in options.peers where peer.key != options.nodeKey.publicKey { transport.addPeer(peer) }
        queue.sync {
            feed(machine.start(now: Self.now()))
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let interval = options.statusInterval
            timer.schedule(deadline: .now() + interval.dispatch, repeating: interval.dispatch)
            timer.setEventHandler { [weak self] in self?.tick() }
            timer.resume()
            statusTimer = timer
        }
    }

    /// Stops consensus, closes every connection and the log. Idempotent.
    public func stop() {
        queue.sync {
            guard !stopped else { return }
            stopped = true
            statusTimer?.cancel()
        }
        transport?.shutdown()
        metricsResponder?.shutdown()
        // The last status, with the frame counters as the node stops.
        if let path = options.statusFile { queue.sync { writeStatusFile(path) } }
        log.close()
        logger.info("stopped")
    }

    /// A fatal fault (the disk failed under the log or the signer state): the node stops rather
    /// than sign or commit on a state it cannot make durable.
    func fail(_ reason: String) {
        guard failure == nil else { return }
        failure = reason
        stopped = true
        logger.critical("stopping: \(reason)")
        statusTimer?.cancel()
        let transport = transport
        DispatchQueue.global().async { transport?.shutdown() }
    }

    /// Wall-clock milliseconds since the epoch.
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000 + UInt64(spec.tv_nsec) / 1_000_000
    }

    // MARK: Queries (any thread)

    public var status: Status {
        queue.sync {
            Status(
                height: state.height, blockHash: lastBlock?.block.header.hash ?? .zero, round: machine.round, peers: peerConnections.count,
                mempool: mempool.count, bestPeerHeight: peerHeights.values.max() ?? 0)
        }
    }

    /// Why the node stopped on its own, if it did.
    public var fault: String? { queue.sync { failure } }

    /// The committed block at `height`, from the log.
    public func block(at height: UInt64) throws -> CommittedBlock { try log.read(height: height) }

    /// Offers a transaction, as a client would; it is gossiped if admitted.
    public func submit(_ transaction: Transaction) -> Mempool.Admission {
        queue.sync { admit(transaction, from: nil) }
    }

    /// Calls `body` (on the node's queue) once height `height` is committed.
    public func whenCommitted(_ height: UInt64, _ body: @escaping @Sendable () -> Void) {
        queue.async {
            if self.state.height >= height { body() } else { self.heightWaiters.append((height, body)) }
        }
    }

    // MARK: Driving the machine

    /// Hands `actions` to the runtime, and every input they produce back to the machine, until
    /// nothing is left (section 5, duty 1).
    func feed(_ actions: [ConsensusAction]) {
        var work: [ConsensusInput] = []
        for action in actions { perform(action, &work) }
        while !work.isEmpty, !stopped {
            let input = work.removeFirst()
            for action in machine.handle(input, now: Self.now()) { perform(action, &work) }
        }
        metrics.machineAt(height: machine.height, round: machine.round, step: machine.step)
    }

    func feed(_ input: ConsensusInput) {
        guard !stopped else { return }
        feed(machine.handle(input, now: Self.now()))
    }

    func perform(_ action: ConsensusAction, _ work: inout [ConsensusInput]) {
        guard !stopped else { return }
        switch action {
        case .broadcastProposal(let proposal):
            relay(.proposal(proposal), signature: proposal.signature, height: proposal.height, from: nil)
        case .broadcastVote(let vote):
            relay(.vote(vote), signature: vote.signature, height: vote.height, from: nil)
        case .scheduleTimeout(let timeout, let milliseconds):
            queue.asyncAfter(deadline: .now() + .milliseconds(Int(milliseconds))) { [weak self] in self?.feed(.timeout(timeout)) }
        case .persistSignerState(let signer):
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                try signerFile.save(signer.canonicalBytes)
                metrics.signerSaved(nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
                work.append(.signerStateDurable(signer))
            } catch {
                fail("the signer state could not be made durable: \(error)")
            }
        case .buildBlock(let height, let round):
            guard height == state.height + 1, let key = options.validatorKey else { return }
            do {
                let evidence = pendingEvidence.filter { !state.isCommitted($0) }
                let (block, after, skipped) = try mempool.proposalAndState(
                    maxCount: options.blockMaxTransactions, maxBytes: options.blockMaxBytes, evidence: Array(evidence.prefix(WireLimits.blockEvidenceMax)),
                    lastCommit: machine.previousCommit, proposer: key.publicKey.wire)
                // Our own block needs no second execution to be validated or committed.
                validatedStates[block.header.hash] = after
                for (id, reason) in skipped { logger.debug("left out of the proposal", metadata: ["tx": "\(id.hex)", "reason": "\(reason)"]) }
                work.append(.blockToPropose(height: height, round: round, block: block))
            } catch {
                logger.error("could not build a block", metadata: ["height": "\(height)", "error": "\(error)"])
            }
        case .validate(let block):
            let valid: Bool
            do {
                // Kept: if the block is decided, committing it needs no second execution.
                if validatedStates[block.header.hash] == nil {
                    validatedStates[block.header.hash] = try state.applying(block, verified: verifiedTransactions(of: block))
                }
                valid = true
            } catch {
                logger.notice("a proposed block does not apply", metadata: ["height": "\(block.header.height)", "hash": "\(block.header.hash.hex)", "reason": "\(error)"])
                valid = false
            }
            work.append(.validity(blockHash: block.header.hash, valid: valid))
        case .fetchBlock(let height, let hash):
            // Peers re-send the proposals they hold to a peer that reconnects, and committed
            // blocks come by block sync; ask the peers ahead, if any.
            logger.debug("waiting for a block a quorum precommitted", metadata: ["height": "\(height)", "hash": "\(hash.hex)"])
            requestBlocksIfBehind()
        case .commit(let committed):
            commit(committed, &work)
        case .evidence(let evidence):
            if !pendingEvidence.contains(evidence) {
                pendingEvidence.append(evidence)
                logger.warning("equivocation", metadata: ["validator": "\(evidence.voteA.validator.hex)", "height": "\(evidence.voteA.height)"])
                _ = try? transport.broadcast(.evidence(evidence))
            }
        }
    }

    /// The block's transactions as the mempool verified them, if it holds them all (then their
    /// signatures are not checked again).
    func verifiedTransactions(of block: Block) -> [VerifiedTransaction]? {
        var out: [VerifiedTransaction] = []
        for transaction in block.transactions {
            guard let verified = mempool.verified(Mempool.id(of: transaction)) else { return nil }
            out.append(verified)
        }
        return out
    }

    func commit(_ committed: CommittedBlock, _ work: inout [ConsensusInput]) {
        let block = committed.block
        let height = block.header.height
        do {
            let started = DispatchTime.now().uptimeNanoseconds
            try log.append(committed)
            metrics.logAppended(nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
            for nanoseconds in log.takeSyncDurations() { metrics.logSynced(nanoseconds: nanoseconds) }
        } catch {
            fail("block \(height) could not be made durable: \(error)")
            return
        }
        do {
            state = try validatedStates[block.header.hash] ?? state.applying(block, verified: verifiedTransactions(of: block))
            validatedStates = [:]
        } catch {
            fail("block \(height), decided and logged, does not apply: \(error)")
            return
        }
        lastBlock = committed
        // Each id once (a SHA-256 of the transaction): the metrics, the commit memory and the pool.
        let ids = block.transactions.map(Mempool.id(of:))
        metrics.committed(block, ids: ids)
        for id in ids where committedTransactions.updateValue(height, forKey: id) == nil { committedOrder.append(id) }
        if committedOrder.count > Self.rememberedCommits {
            let excess = committedOrder.count - Self.rememberedCommits
            for id in committedOrder.prefix(excess) { committedTransactions[id] = nil }
            committedOrder.removeFirst(excess)
        }
        let dropped = mempool.committed(block, ids: ids, state: state, now: Self.now())
        for (id, reason) in dropped { logger.debug("dropped from the mempool", metadata: ["tx": "\(id.hex)", "reason": "\(reason)"]) }
        pendingEvidence.removeAll { state.isCommitted($0) }
        synced = synced.filter { $0.key > height }
        seen = seen.filter { $0.value.height + 1 >= height + 1 }
        // What each peer has only matters for messages still relayed: without this the sets
        // grow by every vote of every height for as long as the connection lasts.
        for key in Array(peerHas.keys) { peerHas[key] = peerHas[key]?.filter { seen[$0] != nil } }
        logger.info("committed", metadata: ["height": "\(height)", "hash": "\(block.header.hash.hex)", "txs": "\(block.transactions.count)", "round": "\(committed.commit.round)"])
        let ready = heightWaiters.filter { $0.height <= height }
        heightWaiters.removeAll { $0.height <= height }
        for waiter in ready { waiter.continuation() }
        recordsCommitted(block)
        broadcastStatus()
        if synced[height + 1] != nil {
            // Catching up: no reason to wait.
            work.append(.blockDurable(height: height))
            queue.async { [weak self] in self?.feedSynced() }
        } else {
            queue.asyncAfter(deadline: .now() + options.commitWait.dispatch) { [weak self] in
                self?.feed(.blockDurable(height: height))
                self?.feedSynced()
            }
        }
    }

    // MARK: Network events

    func handle(_ event: TransportEvent) {
        guard !stopped else { return }
        switch event {
        case .message(.clientRequest(let request), let peer) where peer.channel == .client:
            answer(request, from: peer)
        case .connected(let peer):
            guard peer.channel == .peer else { return }
            peerConnections[peer.key] = peer
            peerHas[peer.key] = []
            // What it may have missed while away: this height's consensus messages, and our head.
            for (signature, entry) in seen.sorted(by: { $0.value.height < $1.value.height }) {
                send(entry.message, to: peer.key)
                peerHas[peer.key, default: []].insert(signature)
            }
            send(.status(statusMessage), to: peer.key)
        case .disconnected(let peer, let reason):
            if peer.channel == .client { clientGone(peer.connectionID) }
            guard peer.channel == .peer, peerConnections[peer.key]?.connectionID == peer.connectionID else { return }
            peerConnections[peer.key] = nil
            peerHas[peer.key] = nil
            peerHeights[peer.key] = nil
            if syncRequest?.peer == peer.key { syncRequest = nil }
            logger.info("peer gone", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        case .message(let message, let peer):
            receive(message, from: peer)
        }
    }

    func receive(_ message: Message, from peer: PeerInfo) {
        switch message {
        case .proposal(let proposal):
            relay(message, signature: proposal.signature, height: proposal.height, from: peer.key)
        case .vote(let vote):
            relay(message, signature: vote.signature, height: vote.height, from: peer.key)
        case .transaction(let transaction):
            _ = admit(transaction, from: peer.key)
        case .evidence(let evidence):
            if !pendingEvidence.contains(evidence), pendingEvidence.count < 1_000, (try? state.check(evidence)) != nil {
                pendingEvidence.append(evidence)
                _ = try? transport.broadcast(.evidence(evidence), except: [peer.key])
            }
        case .status(let status):
            peerHeights[peer.key] = status.height
            metrics.peerReported(height: status.height)
            requestBlocksIfBehind()
        case .blockRequest(let request):
            serve(request, to: peer)
        case .blockResponse(let response):
            accept(response, from: peer)
        case .block(let committed):
            // An unsolicited committed block: treated like one block of a sync response.
            accept(BlockResponse(requestID: 0, blocks: [committed]), from: peer)
        case .recordBlob(let chunk) where peer.channel == .peer:
            received(chunk, from: peer)
        case .recordBlobRequest(let request) where peer.channel == .peer:
            serve(request, to: peer)
        default:
            break
        }
    }

    /// A consensus message, from a peer or our own: fed to the machine once, and passed on to
    /// every peer that does not have it yet (the gossip of section 5, duty 8).
    func relay(_ message: Message, signature: Bytes64, height: UInt64, from source: Ed25519.PublicKey?) {
        if let source { peerHas[source, default: []].insert(signature) }
        guard seen[signature] == nil, height + 1 >= state.height + 1, height <= state.height + 2 else { return }
        seen[signature] = (message, height)
        var except: Set<Ed25519.PublicKey> = []
        for (key, has) in peerHas where has.contains(signature) { except.insert(key) }
        _ = try? transport.broadcast(message, except: except)
        for key in peerConnections.keys where !except.contains(key) { peerHas[key, default: []].insert(signature) }
        guard source != nil else { return }
        switch message {
        case .proposal(let proposal): feed(.proposal(proposal))
        case .vote(let vote): feed(.vote(vote))
        default: break
        }
    }

    func admit(_ transaction: Transaction, from source: Ed25519.PublicKey?) -> Mempool.Admission {
        let now = Self.now()
        let admission = mempool.admit(transaction, now: now)
        switch admission {
        case .added(let id):
            metrics.admitted(id)
            if let source {
                relaySources[id] = [source]
                relayQueue.append((id, now + Self.relayDelay))
                scheduleRelay(after: Self.relayDelay)
            } else {
                _ = try? transport.broadcast(.transaction(transaction))
            }
        case .rejected(_, let error): metrics.rejected(error.code.name)
        case .full: metrics.rejected("mempool_full")
        case .duplicate(let id):
            if let source { relaySources[id]?.insert(source) }
        }
        return admission
    }

    func scheduleRelay(after milliseconds: UInt64) {
        guard !relayScheduled else { return }
        relayScheduled = true
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(milliseconds))) { [weak self] in self?.relayDue() }
    }

    /// Passes on the peer transactions whose ``relayDelay`` is over and that are still pending, to
    /// every peer they were not heard from.
    func relayDue() {
        relayScheduled = false
        guard !stopped else { return }
        let now = Self.now()
        while let next = relayQueue.first, next.due <= now {
            relayQueue.removeFirst()
            guard let heard = relaySources.removeValue(forKey: next.id), let pending = mempool.verified(next.id) else { continue }
            if peerConnections.keys.contains(where: { !heard.contains($0) }) {
                _ = try? transport.broadcast(.transaction(pending.envelope), except: heard)
            }
        }
        if let next = relayQueue.first { scheduleRelay(after: next.due - now) }
    }

    func send(_ message: Message, to key: Ed25519.PublicKey) {
        do {
            try transport.send(message, to: key)
        } catch {
            logger.debug("send failed", metadata: ["peer": "\(PeerInfo.shortKey(key))", "error": "\(error)"])
        }
    }

    // MARK: The client port (Protocol/CLIENT.md; kinds 3 to 12 in Node+Queries and Node+Records)

    public typealias RequestKind = ClientRequestKind

    /// Answers a client request: its signature is checked first (a request is authorised by
    /// its own signature, whoever the connection is).
    func answer(_ request: ClientRequest, from peer: PeerInfo) {
        let signed = request.request
        func fail(_ code: LedgerError.Code, _ message: String) {
            let text = message.count > 1_000 ? String(message.prefix(1_000)) + "..." : message
            send(.clientError(ClientError(requestID: request.requestID, code: code.rawValue, message: text)), on: peer)
        }
        // A submission is anyone's to make and carries its own signed transaction, which the
        // mempool verifies; the request's signature would authorise nothing more, and checking it
        // was a fifth of the cluster's signature checks per transaction (CLIENT.md section 1).
        if signed.kind != RequestKind.submitTransaction.rawValue {
            guard signed.signer.ed25519.verifies(signed.signature, for: .clientRequest, chainID: state.chainID, message: signed.signedBytes) else {
                return fail(.badSignature, "the request's signature does not verify for its signer and chain \(state.chainID)")
            }
            if let problem = Self.timestampProblem(signed.timestamp, now: Self.now()) { return fail(.staleRequest, problem) }
        }
        guard let kind = RequestKind(rawValue: signed.kind) else {
            return fail(.malformed, "request kind \(signed.kind) is not defined: the kinds are 1 to 12 (Protocol/CLIENT.md section 2)")
        }
        var writer = ByteWriter()
        switch kind {
        case .submitTransaction:
            let transaction: Transaction
            do {
                transaction = try Transaction(canonicalBytes: signed.body)
            } catch {
                return fail(.malformed, "the body is not a canonical transaction: \(error)")
            }
            let id = Mempool.id(of: transaction)
            if let height = committedTransactions[id] {
                writer.write(UInt8(2))
                writer.write(height)
            } else {
                switch admit(transaction, from: nil) {
                case .added, .duplicate:
                    writer.write(UInt8(1))
                case .rejected(_, let error):
                    writer.write(UInt8(3))
                    writer.write(error.code.rawValue)
                    writer.write(String(error.reason.prefix(1_000)))
                case .full(_, let reason):
                    return fail(.busy, "\(reason); submit again later")
                }
            }
        case .status:
            guard signed.body.isEmpty else { return fail(.malformed, "a status request has an empty body, not \(signed.body.count) bytes") }
            writer.write(statusAnswer)
        default:
            do {
                // Nil: answered later (a fetch waits for its access entry to commit).
                guard let body = try serve(kind, signed, requestID: request.requestID, from: peer) else { return }
                writer.writeRaw(body)
            } catch {
                return fail(error.code, error.reason)
            }
        }
        send(.clientResponse(ClientResponse(requestID: request.requestID, kind: signed.kind, body: writer.bytes)), on: peer)
    }

    func send(_ message: Message, on peer: PeerInfo) {
        do {
            try transport.send(message, on: peer.connectionID)
        } catch {
            logger.debug("answer not sent", metadata: ["client": "\(peer)", "error": "\(error)"])
        }
    }

    // MARK: Status and block sync

    var statusMessage: MedLedgerWire.Status {
        MedLedgerWire.Status(
            height: state.height, blockHash: lastBlock?.block.header.hash ?? .zero, baseHeight: state.height > 0 ? 1 : 0,
            time: state.lastBlockTime)
    }

    func broadcastStatus() { _ = try? transport.broadcast(.status(statusMessage)) }

    func tick() {
        guard !stopped else { return }
        broadcastStatus()
        if let path = options.statusFile { writeStatusFile(path) }
        recordsTick()
        if let request = syncRequest, DispatchTime.now() > request.deadline {
            logger.notice("block sync request timed out", metadata: ["peer": "\(PeerInfo.shortKey(request.peer))"])
            syncRequest = nil
        }
        requestBlocksIfBehind()
    }

    func writeStatusFile(_ path: String) {
        let hash = (lastBlock?.block.header.hash ?? .zero).hex
        let fields = [
            "\"height\":\(state.height)", "\"hash\":\"\(hash)\"", "\"round\":\(machine.round)", "\"peers\":\(peerConnections.count)",
            "\"mempool\":\(mempool.count)", "\"best_peer_height\":\(peerHeights.values.max() ?? 0)", "\"time\":\(Self.now())",
            "\"signature_checks\":\(Ed25519.verificationCount)",
        ] + (transport.map { [Self.frameCountersJSON($0.counters())] } ?? [])
        let bytes = Array(("{" + fields.joined(separator: ",") + "}\n").utf8)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == bytes.count { rename(temporary, path) }
    }

    /// `"frames":{"sent":{"vote":n,...},"received":{...}}`: wire frames by message type, handshake
    /// included (TransportCounters), so a capture of the node can be checked against them.
    static func frameCountersJSON(_ counters: TransportCounters) -> String {
        let types = MessageType.allCases.filter { counters.byMessageType[$0] != nil }
        func members(_ value: (TransportCounters.Traffic) -> UInt64) -> String {
            types.map { "\"\($0.name)\":\(value(counters.byMessageType[$0]!))" }.joined(separator: ",")
        }
        return "\"frames\":{\"sent\":{\(members(\.framesOut))},\"received\":{\(members(\.framesIn))}}"
    }

    /// Asks a peer that is ahead for the next blocks, one request at a time.
    func requestBlocksIfBehind() {
        guard syncRequest == nil else { return }
        let have = Swift.max(state.height, synced.keys.max() ?? 0)
        let ahead = peerHeights.filter { $0.value > have && peerConnections[$0.key] != nil }
        guard let best = ahead.max(by: { ($0.value, $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) ? 1 : 0) < ($1.value, 0) }) else { return }
        let start = have + 1
        let count = UInt16(Swift.min(UInt64(WireLimits.blockRequestCountMax), best.value - have))
        let request = BlockRequest(requestID: nextRequestID, startHeight: start, count: count)
        nextRequestID += 1
        syncRequest = (best.key, request.requestID, .now() + options.syncTimeout.dispatch)
        send(.blockRequest(request), to: best.key)
    }

    /// Answers a block request from the log: consecutive blocks from its start, as many as fit in
    /// one frame.
    func serve(_ request: BlockRequest, to peer: PeerInfo) {
        var blocks: [CommittedBlock] = []
        var size = 64
        var height = request.startHeight
        while height <= state.height, blocks.count < Int(request.count) {
            guard let block = try? log.read(height: height) else { break }
            let bytes = block.canonicalBytes.count
            if !blocks.isEmpty, size + bytes > WireLimits.maxInflatedPayload / 2 { break }
            size += bytes
            blocks.append(block)
            height += 1
        }
        send(.blockResponse(BlockResponse(requestID: request.requestID, blocks: blocks)), to: peer.key)
    }

    /// Checks blocks from sync before the machine sees them: each must carry a certificate that
    /// verifies for its height and hash, and a body that matches its header. A peer that sends
    /// anything else is dropped.
    func accept(_ response: BlockResponse, from peer: PeerInfo) {
        if response.requestID != 0 {
            guard let request = syncRequest, request.id == response.requestID, request.peer == peer.key else { return }
            syncRequest = nil
        }
        for committed in response.blocks {
            let header = committed.block.header
            guard header.height > state.height, synced[header.height] == nil else { continue }
            do {
                try state.validators.verify(committed.commit, height: header.height, blockHash: header.hash, chainID: state.chainID)
                guard LedgerState.bodyMatchesHeader(committed.block) else {
                    throw LedgerError(.invalidBlock, "the block's body does not match its header")
                }
            } catch {
                logger.warning("a peer served a bad block: dropping it", metadata: ["peer": "\(peer)", "height": "\(header.height)", "reason": "\(error)"])
                transport.close(peer.connectionID)
                return
            }
            synced[header.height] = committed
        }
        feedSynced()
        requestBlocksIfBehind()
    }

    /// Gives the machine the synced block of its height, if there is one.
    func feedSynced() {
        guard !stopped, let block = synced[machine.height] else { return }
        synced[machine.height] = nil
        feed(.syncedBlock(block))
    }
}

extension Duration {
    var dispatch: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
