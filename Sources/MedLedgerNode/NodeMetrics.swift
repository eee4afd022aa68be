import CoreMetrics
import Dispatch
import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Prometheus

/// A node's metrics: swift-metrics handles over a registry of the node's own (never the
/// process-wide `MetricsSystem`, so that several nodes in one process, as in the tests, keep
/// their numbers apart), published in the Prometheus text format on `GET /metrics`.
///
/// Owned by the node's queue: the node records into it as things happen (commits, appends,
/// admissions, consensus steps) and ``refresh(_:)`` copies the gauges and the transport's counters
/// in before each scrape. The registry itself may be emitted from any thread.
final class NodeMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let height: CoreMetrics.Gauge
    private let bestPeerHeight: CoreMetrics.Gauge
    private let round: CoreMetrics.Gauge
    private let rounds: CoreMetrics.Counter
    private let peers: CoreMetrics.Gauge
    private let connectedPower: CoreMetrics.Gauge
    private let totalPower: CoreMetrics.Gauge
    private let healthy: CoreMetrics.Gauge
    private let mempoolTransactions: CoreMetrics.Gauge
    private let blocksCommitted: CoreMetrics.Counter
    private let transactionsCommitted: CoreMetrics.Counter
    private let openConnections: CoreMetrics.Gauge
    private let establishedConnections: CoreMetrics.Gauge
    private let gossipDropped: CoreMetrics.Counter
    private let commitLatency: CoreMetrics.Timer
    private let transactionLatency: CoreMetrics.Timer
    private let logAppend: CoreMetrics.Timer
    private let logFsync: CoreMetrics.Timer
    private let signerSave: CoreMetrics.Timer
    private var stepDurations: [String: CoreMetrics.Timer] = [:]

    /// Counters fed from cumulative snapshots: the handle and the value already added.
    private struct Fed {
        var counter: CoreMetrics.Counter
        var value: UInt64
    }
    private var fed: [String: Fed] = [:]
    /// Distinct reasons per family at most; more are counted as `other` (a peer chooses the
    /// `DISCONNECT` code it sends, so remote reasons are not a closed set).
    static let maxReasons = 64
    private var reasonCounts: [String: Int] = [:]
    private var rejections: [String: CoreMetrics.Counter] = [:]

    /// The highest height any peer reported; never goes down.
    private(set) var bestHeightSeen: UInt64 = 0
    /// When transactions were admitted here, for the admission-to-commit latency (bounded).
    private var admitted: [Bytes32: DispatchTime] = [:]
    static let maxAdmitted = 50_000
    /// The consensus step being timed: (height, round, step name) and when it began.
    private var step: (height: UInt64, round: UInt32, name: String)?
    private var stepStart = DispatchTime.now()
    private var heightStart = DispatchTime.now()

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        let slow: [Duration] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(1_500),
            .seconds(2), .seconds(3), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.durationHistogramBuckets = [
            "medledger_log_append_seconds": fast, "medledger_log_fsync_seconds": fast, "medledger_signer_state_save_seconds": fast,
            "medledger_commit_latency_seconds": slow, "medledger_transaction_commit_latency_seconds": slow,
            "medledger_consensus_step_duration_seconds": slow,
        ]
        self.factory = factory
        height = Gauge(label: "medledger_height", factory: factory)
        bestPeerHeight = Gauge(label: "medledger_best_peer_height", factory: factory)
        round = Gauge(label: "medledger_consensus_round", factory: factory)
        rounds = Counter(label: "medledger_consensus_rounds_total", factory: factory)
        peers = Gauge(label: "medledger_peers", factory: factory)
        connectedPower = Gauge(label: "medledger_connected_voting_power", factory: factory)
        totalPower = Gauge(label: "medledger_total_voting_power", factory: factory)
        healthy = Gauge(label: "medledger_healthy", factory: factory)
        mempoolTransactions = Gauge(label: "medledger_mempool_transactions", factory: factory)
        blocksCommitted = Counter(label: "medledger_blocks_committed_total", factory: factory)
        transactionsCommitted = Counter(label: "medledger_transactions_committed_total", factory: factory)
        openConnections = Gauge(label: "medledger_net_open_connections", factory: factory)
        establishedConnections = Gauge(label: "medledger_net_established_connections", factory: factory)
        gossipDropped = Counter(label: "medledger_net_gossip_frames_dropped_total", factory: factory)
        commitLatency = Timer(label: "medledger_commit_latency_seconds", factory: factory)
        transactionLatency = Timer(label: "medledger_transaction_commit_latency_seconds", factory: factory)
        logAppend = Timer(label: "medledger_log_append_seconds", factory: factory)
        logFsync = Timer(label: "medledger_log_fsync_seconds", factory: factory)
        signerSave = Timer(label: "medledger_signer_state_save_seconds", factory: factory)
        for name in ["propose", "prevote", "precommit", "commit"] {
            stepDurations[name] = Timer(label: "medledger_consensus_step_duration_seconds", dimensions: [("step", name)], factory: factory)
        }
    }

    // MARK: Recording (on the node's queue)

    func admitted(_ id: Bytes32) {
        if admitted.count >= Self.maxAdmitted {
            // Transactions evicted from the mempool never commit: forget the oldest half.
            let cutoff = admitted.values.sorted()[admitted.count / 2]
            admitted = admitted.filter { $0.value > cutoff }
        }
        admitted[id] = .now()
    }

    func rejected(_ reason: String) {
        let reason = boundedReason(family: "mempool", reason)
        let counter = rejections[reason] ?? Counter(label: "medledger_mempool_rejections_total", dimensions: [("reason", reason)], factory: factory)
        rejections[reason] = counter
        counter.increment()
    }

    func logAppended(nanoseconds: UInt64) { logAppend.recordNanoseconds(Int64(clamping: nanoseconds)) }
    func logSynced(nanoseconds: UInt64) { logFsync.recordNanoseconds(Int64(clamping: nanoseconds)) }
    func signerSaved(nanoseconds: UInt64) { signerSave.recordNanoseconds(Int64(clamping: nanoseconds)) }

    /// A block committed: its latency from the start of its height, and each transaction's from
    /// its admission here.
    func committed(_ block: Block, ids: [Bytes32]) {
        let now = DispatchTime.now()
        blocksCommitted.increment()
        transactionsCommitted.increment(by: Int64(block.transactions.count))
        commitLatency.recordNanoseconds(Int64(clamping: now.uptimeNanoseconds - heightStart.uptimeNanoseconds))
        for id in ids {
            if let start = admitted.removeValue(forKey: id) {
                transactionLatency.recordNanoseconds(Int64(clamping: now.uptimeNanoseconds - start.uptimeNanoseconds))
            }
        }
        if let step, step.name != "commit" {
            stepDurations[step.name]?.recordNanoseconds(Int64(clamping: now.uptimeNanoseconds - stepStart.uptimeNanoseconds))
            self.step = (step.height, step.round, "commit")
            stepStart = now
        }
    }

    /// The machine's position after it handled inputs: times the step it left.
    func machineAt(height: UInt64, round newRound: UInt32, step newStep: Step) {
        let name = switch newStep {
        case .propose: "propose"
        case .prevote: "prevote"
        case .precommit: "precommit"
        }
        let now = DispatchTime.now()
        guard let step else {
            self.step = (height, newRound, name)
            stepStart = now
            heightStart = now
            return
        }
        // After a commit the machine stays at its height until the commit wait is over.
        if step.name == "commit", height == step.height { return }
        guard (height, newRound, name) != (step.height, step.round, step.name) else { return }
        stepDurations[step.name]?.recordNanoseconds(Int64(clamping: now.uptimeNanoseconds - stepStart.uptimeNanoseconds))
        if height > step.height {
            heightStart = now
        } else if newRound > step.round {
            rounds.increment(by: Int64(newRound - step.round))
        }
        self.step = (height, newRound, name)
        stepStart = now
    }

    func peerReported(height: UInt64) { bestHeightSeen = max(bestHeightSeen, height) }

    // MARK: Before a scrape

    struct Snapshot {
        var height: UInt64
        var bestPeerHeight: UInt64
        var round: UInt32
        var peers: Int
        var mempool: Int
        var health: Node.Health
        var transport: TransportCounters?
    }

    func refresh(_ snapshot: Snapshot) {
        height.record(Double(snapshot.height))
        bestPeerHeight.record(Double(snapshot.bestPeerHeight))
        round.record(Double(snapshot.round))
        peers.record(Double(snapshot.peers))
        mempoolTransactions.record(Double(snapshot.mempool))
        connectedPower.record(Double(snapshot.health.connectedPower))
        totalPower.record(Double(snapshot.health.totalPower))
        healthy.record(snapshot.health.healthy ? 1.0 : 0.0)
        guard let counters = snapshot.transport else { return }
        openConnections.record(Double(counters.openConnections))
        establishedConnections.record(Double(counters.establishedConnections))
        for (type, traffic) in counters.byMessageType {
            feed("medledger_net_frames_total", [("type", type.name), ("direction", "in")], traffic.framesIn)
            feed("medledger_net_frames_total", [("type", type.name), ("direction", "out")], traffic.framesOut)
            feed("medledger_net_bytes_total", [("type", type.name), ("direction", "in")], traffic.bytesIn)
            feed("medledger_net_bytes_total", [("type", type.name), ("direction", "out")], traffic.bytesOut)
        }
        for (family, reasons) in [
            ("medledger_net_refusals_total", counters.refusals), ("medledger_net_drops_total", counters.drops),
            ("medledger_net_remote_closes_total", counters.remoteCloses), ("medledger_net_dial_failures_total", counters.dialFailures),
        ] {
            var folded: [String: UInt64] = [:]
            for (reason, count) in reasons { folded[boundedReason(family: family, reason), default: 0] += count }
            for (reason, count) in folded { feed(family, [("reason", reason)], count) }
        }
        feedPlain(gossipDropped, key: "gossip_dropped", counters.droppedGossipFrames)
    }

    /// The registry in the Prometheus text format.
    func text() -> [UInt8] { registry.emitToBuffer() }

    /// Adds what a cumulative count grew by since the last refresh.
    private func feed(_ label: String, _ dimensions: [(String, String)], _ value: UInt64) {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        var entry = fed[key] ?? Fed(counter: Counter(label: label, dimensions: dimensions, factory: factory), value: 0)
        if value > entry.value { entry.counter.increment(by: Int64(clamping: value - entry.value)) }
        entry.value = max(entry.value, value)
        fed[key] = entry
    }

    private func feedPlain(_ counter: CoreMetrics.Counter, key: String, _ value: UInt64) {
        var entry = fed[key] ?? Fed(counter: counter, value: 0)
        if value > entry.value { counter.increment(by: Int64(clamping: value - entry.value)) }
        entry.value = max(entry.value, value)
        fed[key] = entry
    }

    private func boundedReason(family: String, _ reason: String) -> String {
        let safe = String(reason.prefix(48).map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        let key = family + "|" + safe
        if reasonCounts[key] != nil { return safe }
        let inFamily = reasonCounts.keys.filter { $0.hasPrefix(family + "|") }.count
        guard inFamily < Self.maxReasons else { return "other" }
        reasonCounts[key] = 1
        return safe
    }
}
