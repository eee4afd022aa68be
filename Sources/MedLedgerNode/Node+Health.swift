import Dispatch
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire

/// The metrics listener: `GET /metrics` (Prometheus text format) and `GET /healthz`.
extension Node {
    /// Whether the node can take part in the network now (README, Operating a facility node).
    public struct Health: Sendable, Hashable {
        /// A quorum of voting power is connected (this node's own counted) and the node is within
        /// ``Node/healthLag`` blocks of the best height it has seen.
        public var healthy: Bool
        /// `ok`, or what is wrong and what to look at.
        public var reason: String
        public var height: UInt64
        public var bestHeightSeen: UInt64
        public var peers: Int
        public var connectedPower: UInt64
        public var totalPower: UInt64

        /// The answer of `/healthz`: one JSON object.
        public var json: String {
            let escaped = reason.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            return "{\"healthy\":\(healthy),\"reason\":\"\(escaped)\",\"height\":\(height),\"best_height_seen\":\(bestHeightSeen),"
                + "\"peers\":\(peers),\"connected_power\":\(connectedPower),\"total_power\":\(totalPower)}\n"
        }
    }

    /// A node more than this many blocks behind the best height it has seen is not healthy.
    public static let healthLag: UInt64 = 2

    /// The node's health now.
    public var health: Health { queue.sync { currentHealth() } }

    /// On the queue.
    func currentHealth() -> Health {
        let facilities = options.genesis.facilities
        let total = facilities.reduce(UInt64(0)) { $0 + $1.power }
        let ownKey = options.nodeKey.publicKey.bytes
        var connected: UInt64 = 0
        let connectedKeys = Set(peerConnections.keys.map(\.bytes))
        for facility in facilities where facility.nodeKey.bytes == ownKey || connectedKeys.contains(facility.nodeKey.bytes) {
            connected += facility.power
        }
        let best = Swift.max(metrics.bestHeightSeen, peerHeights.values.max() ?? 0)
        var health = Health(
            healthy: false, reason: "ok", height: state.height, bestHeightSeen: best, peers: peerConnections.count,
            connectedPower: connected, totalPower: total)
        if let failure {
            health.reason = "the node stopped: \(failure)"
        } else if stopped {
            health.reason = "the node is stopping"
        } else if connected * 3 <= total * 2 {
            health.reason = "no quorum of peers: connected validators hold \(connected) of \(total) voting power (this node's own counted), "
                + "more than two thirds is needed; check the peers' addresses, their nodes and the network between them"
        } else if best > state.height + Self.healthLag {
            health.reason = "behind: height \(state.height), best height seen \(best); it is catching up by block sync"
        } else {
            health.healthy = true
        }
        return health
    }

    /// Starts the HTTP responder on `options.metricsHost:metricsPort`, if set.
    func startMetricsListener() throws {
        guard let host = options.metricsHost else { return }
        var limits = HTTPResponder.Limits()
        limits.timeout = .seconds(5)
        let responder = try HTTPResponder(
            host: host, port: options.metricsPort, paths: ["/metrics", "/healthz"], limits: limits, logger: logger
        ) { [weak self] path, respond in
            guard let self else { return respond(HTTPResponder.Response(status: 503, json: "{\"healthy\":false,\"reason\":\"the node is gone\"}\n")) }
            self.queue.async {
                let health = self.currentHealth()
                self.refreshMetrics(health)
                if path == "/healthz" {
                    respond(HTTPResponder.Response(status: health.healthy ? 200 : 503, json: health.json))
                } else {
                    let metrics = self.metrics
                    DispatchQueue.global().async {
                        respond(HTTPResponder.Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.text()))
                    }
                }
            }
        }
        metricsResponder = responder
        metricsAddress = responder.address
    }

    /// On the queue: copies the gauges and the transport's counters into the metrics.
    func refreshMetrics(_ health: Health) {
        metrics.refresh(
            NodeMetrics.Snapshot(
                height: state.height, bestPeerHeight: peerHeights.values.max() ?? 0, round: machine.round, peers: peerConnections.count,
                mempool: mempool.count, health: health, transport: transport?.counters()))
    }

    /// The Prometheus text of this node's metrics, refreshed now (tests and tools).
    public func metricsText() -> String {
        queue.sync { refreshMetrics(currentHealth()) }
        return String(decoding: metrics.text(), as: UTF8.self)
    }
}
