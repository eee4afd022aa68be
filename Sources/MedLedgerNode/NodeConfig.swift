import MedLedgerConsensus
import MedLedgerWire

/// A node's settings: `config.json` in its home, overridden by `MEDLEDGER_*` environment variables
/// (``load(home:environment:)``).
///
/// Every setting has a default, so a file need only hold `version` and what differs. Unknown
/// members are refused (a misspelt setting must not be silently ignored), and every bad value is a
/// ``NodeConfigError`` that names the file or variable, the value, and the fix.
public struct NodeConfig: Codable, Sendable, Equatable {
    /// The format version this build reads and writes.
    public static let currentVersion = 1
    /// The chain id `medledger init` and `medledger testnet` use when none is given.
    public static let defaultChainID = "medledger-local"

    /// Always ``currentVersion`` once loaded.
    public var version: Int = NodeConfig.currentVersion
    /// A name for this node in logs and metrics (not an identity: the node key is).
    public var moniker: String = "medledger-node"
    /// The chain this node serves; must match the genesis file's `chain_id`.
    public var chainID: String = NodeConfig.defaultChainID
    /// Where the peer (consensus and gossip) port listens. Port 0: a free port, written to `ports.json`.
    public var p2pListen = HostPort(host: "0.0.0.0", port: 26656)
    /// Where the client API listens.
    public var clientListen = HostPort(host: "127.0.0.1", port: 26657)
    /// Where the Prometheus metrics and health endpoint listen; nil turns it off.
    public var metricsListen: HostPort? = HostPort(host: "127.0.0.1", port: 26660)
    /// Peers to dial and keep connected.
    public var persistentPeers: [PeerAddress] = []
    /// Node keys (64 hex digits) admitted on the peer port besides the genesis facilities' node keys.
    public var observers: [String] = []
    /// Where to write the secure-channel key log (opt-in, for the inspector); nil writes none.
    /// A relative path is relative to the node's home.
    public var keyLog: String? = nil
    public var timeouts = Timeouts()
    public var mempool = MempoolLimits()
    /// Most transactions this node puts in a block it proposes.
    public var blockMaxTransactions: Int = 1000
    /// Most bytes of transactions this node puts in a block it proposes.
    public var blockMaxBytes: Int = 4 << 20
    public var logLevel: LogLevel = .info
    /// Facilities after a record's custodian that keep a copy of its ciphertext
    /// (Protocol/CLIENT.md section 5.1); every node of a chain must use the same value.
    public var recordReplicas: Int = 2

    /// Every setting at its default.
    public init() {}

    /// Consensus round timeouts, in milliseconds (Protocol/CONSENSUS.md): a round's timeout is the
    /// base plus `delta` per round, never more than `cap`.
    public struct Timeouts: Codable, Sendable, Hashable {
        public var proposeMs: UInt64 = 3000
        public var prevoteMs: UInt64 = 1000
        public var precommitMs: UInt64 = 1000
        public var deltaMs: UInt64 = 500
        public var capMs: UInt64 = 30_000
        /// How long a node stays at a decided height before starting the next (the node's
        /// `commitWait`; CometBFT's `timeout_commit`). 0 to 600000; lower it for throughput.
        public var commitMs: UInt64 = 1000

        public init() {}

        /// The consensus machine's parameters.
        public var consensusTimeouts: ConsensusTimeouts {
            var timeouts = ConsensusTimeouts()
            timeouts.propose = proposeMs
            timeouts.prevote = prevoteMs
            timeouts.precommit = precommitMs
            timeouts.delta = deltaMs
            timeouts.cap = capMs
            return timeouts
        }
    }

    /// Bounds on the pending transactions.
    public struct MempoolLimits: Codable, Sendable, Hashable {
        public var maxTransactions: Int = 10_000
        public var maxBytes: Int = 32 << 20
        public var maxPerSigner: Int = 256

        public init() {}

        /// The mempool's limits (the remembered-id cache keeps its default).
        public var limits: Mempool.Limits {
            var limits = Mempool.Limits()
            limits.maxTransactions = maxTransactions
            limits.maxBytes = maxBytes
            limits.maxPerSigner = maxPerSigner
            return limits
        }
    }

    /// The levels of swift-log, by the same names.
    public enum LogLevel: String, Codable, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        /// Parses a level name, in any case.
        public init(parsing text: String) throws(NodeConfigError) {
            guard let level = LogLevel(rawValue: text.lowercased()) else {
                throw NodeConfigError(
                    .invalidValue, value: text, problem: "this is not a log level",
                    fix: "use one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = level
        }
    }

    // MARK: Derived values

    /// The observers' node keys.
    public var observerKeys: [Bytes32] { observers.compactMap { Bytes32(hex: $0) } }

    // MARK: Validation

    /// Limits on the settings that are numbers; ``validate()`` enforces them.
    public enum Bounds {
        public static let timeoutMs: ClosedRange<UInt64> = 1...600_000
        public static let mempoolTransactions: ClosedRange<Int> = 1...1_000_000
        public static let mempoolBytes: ClosedRange<Int> = (64 << 10)...(4 << 30)
        public static let blockTransactions: ClosedRange<Int> = 1...WireLimits.blockTransactionsMax
        /// A proposed block must fit in one frame.
        public static let blockBytes: ClosedRange<Int> = (1 << 10)...WireLimits.maxFramePayload
        public static let monikerLength: ClosedRange<Int> = 1...64
        public static let recordReplicas: ClosedRange<Int> = 0...255
    }

    /// Checks the rules that the value types cannot: the version, the chain id, the moniker and
    /// every numeric range. The error's member is the JSON member's name.
    public func validate() throws(NodeConfigError) {
        func bad(_ member: String, _ value: String, _ problem: String, _ fix: String) -> NodeConfigError {
            NodeConfigError(.invalidValue, member: member, value: value, problem: problem, fix: fix)
        }
        guard version == Self.currentVersion else {
            throw NodeConfigError(
                .unsupportedVersion, member: "version", value: String(version),
                problem: "this medledger reads configuration version \(Self.currentVersion) only",
                fix: "set \"version\": \(Self.currentVersion), or use the medledger release that wrote this file")
        }
        guard Bounds.monikerLength.contains(moniker.utf8.count),
            moniker.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else {
            throw bad("moniker", moniker, "a moniker is 1 to 64 bytes with no control characters", "choose a short name")
        }
        guard ChainID.isValid(chainID) else {
            throw bad(
                "chain_id", chainID, "a chain id is 1 to 64 characters of a-z 0-9 - . _",
                "use the chain_id of the network's genesis.json")
        }
        for (member, value) in [
            ("timeouts.propose_ms", timeouts.proposeMs), ("timeouts.prevote_ms", timeouts.prevoteMs),
            ("timeouts.precommit_ms", timeouts.precommitMs), ("timeouts.delta_ms", timeouts.deltaMs),
            ("timeouts.cap_ms", timeouts.capMs),
        ] where !Bounds.timeoutMs.contains(value) {
            throw bad(member, String(value), "a timeout is 1 to 600000 ms", "give milliseconds from 1 to 600000")
        }
        guard timeouts.commitMs <= Bounds.timeoutMs.upperBound else {
            throw bad(
                "timeouts.commit_ms", String(timeouts.commitMs), "the commit wait is 0 to 600000 ms",
                "give milliseconds from 0 to 600000 (1000 is the default)")
        }
        for (member, value) in [
            ("timeouts.propose_ms", timeouts.proposeMs), ("timeouts.prevote_ms", timeouts.prevoteMs),
            ("timeouts.precommit_ms", timeouts.precommitMs),
        ] where value > timeouts.capMs {
            throw bad(
                member, String(value), "the timeout is above timeouts.cap_ms (\(timeouts.capMs))",
                "lower it, or raise timeouts.cap_ms to at least \(value)")
        }
        func range(_ member: String, _ value: Int, _ bounds: ClosedRange<Int>, _ unit: String) throws(NodeConfigError) {
            guard bounds.contains(value) else {
                throw bad(
                    member, String(value), "out of range", "give \(bounds.lowerBound) to \(bounds.upperBound) \(unit)")
            }
        }
        try range("mempool.max_transactions", mempool.maxTransactions, Bounds.mempoolTransactions, "transactions")
        try range("mempool.max_bytes", mempool.maxBytes, Bounds.mempoolBytes, "bytes")
        try range("mempool.max_per_signer", mempool.maxPerSigner, 1...mempool.maxTransactions, "transactions")
        try range("block_max_transactions", blockMaxTransactions, Bounds.blockTransactions, "transactions")
        try range("block_max_bytes", blockMaxBytes, Bounds.blockBytes, "bytes")
        try range("record_replicas", recordReplicas, Bounds.recordReplicas, "facilities (the same on every node of the chain)")
        if let keyLog, keyLog.isEmpty || keyLog.utf8.contains(0) {
            throw bad("key_log", keyLog, "not a usable path", "give a file path, or null to write no key log")
        }
    }

    /// Parses a 64-hex-digit key (either case) and returns it in lowercase.
    static func parseKey(_ text: String, what: String) throws(NodeConfigError) -> String {
        guard text.utf8.count == 64, let key = Bytes32(hex: text) else {
            let problem =
                text.utf8.count == 64
                ? "\(what) has a character that is not a hex digit"
                : "\(what) is \(text.utf8.count) characters long, not 64 hex digits"
            throw NodeConfigError(
                .invalidValue, value: text, problem: problem,
                fix: "copy the 64-hex-digit node_key from the node's facility.json (or genesis.json)")
        }
        return key.hex
    }
}
