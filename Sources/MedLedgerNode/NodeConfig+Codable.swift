// config.json: members in snake_case, every one optional except `version`, unknown ones refused.
//
// {
//   "version": 1,
//   "moniker": "General Hospital",
//   "chain_id": "medledger-local",
//   "p2p_listen": "0.0.0.0:26656",
//   "client_listen": "127.0.0.1:26657",
//   "metrics_listen": "127.0.0.1:26660",          (null: no metrics endpoint)
//   "persistent_peers": [ { "node_key": "<64 hex>", "address": "host:port" } ],
//                                                  (or the compact "<64 hex>@host:port")
//   "observers": [ "<64 hex>" ],
//   "key_log": null,                               ("keylog.txt": relative to the home)
//   "timeouts": { "propose_ms": 3000, "prevote_ms": 1000, "precommit_ms": 1000,
//                 "delta_ms": 500, "cap_ms": 30000, "commit_ms": 1000 },
//   "mempool": { "max_transactions": 10000, "max_bytes": 33554432, "max_per_signer": 256 },
//   "block_max_transactions": 1000,
//   "block_max_bytes": 4194304,
//   "log_level": "info",
//   "record_replicas": 2
// }

extension NodeConfig {
    enum Member: String, CaseIterable {
        case version, moniker
        case chainID = "chain_id"
        case p2pListen = "p2p_listen"
        case clientListen = "client_listen"
        case metricsListen = "metrics_listen"
        case persistentPeers = "persistent_peers"
        case observers
        case keyLog = "key_log"
        case timeouts, mempool
        case blockMaxTransactions = "block_max_transactions"
        case blockMaxBytes = "block_max_bytes"
        case logLevel = "log_level"
        case recordReplicas = "record_replicas"
    }

    public init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, members: Member.allCases.map(\.rawValue))
        self.init()
        guard object.has(Member.version.rawValue) else {
            throw NodeConfigError(
                .missingMember, member: "version", problem: "the file does not say its format version",
                fix: "add \"version\": \(Self.currentVersion)")
        }
        version = try object.require(Int.self, Member.version.rawValue)
        guard version == Self.currentVersion else { try validate(); return }
        if let value = try object.optional(String.self, Member.moniker.rawValue) { moniker = value }
        if let value = try object.optional(String.self, Member.chainID.rawValue) { chainID = value }
        if let value = try object.optional(HostPort.self, Member.p2pListen.rawValue) { p2pListen = value }
        if let value = try object.optional(HostPort.self, Member.clientListen.rawValue) { clientListen = value }
        if object.isNull(Member.metricsListen.rawValue) {
            metricsListen = nil
        } else if let text = try object.optional(String.self, Member.metricsListen.rawValue) {
            do {
                metricsListen = text.isEmpty ? nil : try HostPort(parsing: text)
            } catch {
                throw error.located(source: "", member: Member.metricsListen.rawValue)
            }
        }
        if let value = try object.optional([PeerAddress].self, Member.persistentPeers.rawValue) { persistentPeers = value }
        if let value = try object.optional([String].self, Member.observers.rawValue) {
            observers = []
            for (index, text) in value.enumerated() {
                do {
                    observers.append(try Self.parseKey(text, what: "an observer's node key"))
                } catch {
                    throw error.located(source: "", member: "observers[\(index)]")
                }
            }
        }
        if let value = try object.optional(String.self, Member.keyLog.rawValue) { keyLog = value }
        if let value = try object.optional(Timeouts.self, Member.timeouts.rawValue) { timeouts = value }
        if let value = try object.optional(MempoolLimits.self, Member.mempool.rawValue) { mempool = value }
        if let value = try object.optional(Int.self, Member.blockMaxTransactions.rawValue) { blockMaxTransactions = value }
        if let value = try object.optional(Int.self, Member.blockMaxBytes.rawValue) { blockMaxBytes = value }
        if let value = try object.optional(LogLevel.self, Member.logLevel.rawValue) { logLevel = value }
        if let value = try object.optional(Int.self, Member.recordReplicas.rawValue) { recordReplicas = value }
        try validate()
    }

    /// Writes every member, `null` included, so that the file shows every setting there is.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        func key(_ member: Member) -> ConfigKey { ConfigKey(member.rawValue) }
        try container.encode(version, forKey: key(.version))
        try container.encode(moniker, forKey: key(.moniker))
        try container.encode(chainID, forKey: key(.chainID))
        try container.encode(p2pListen, forKey: key(.p2pListen))
        try container.encode(clientListen, forKey: key(.clientListen))
        if let metricsListen {
            try container.encode(metricsListen, forKey: key(.metricsListen))
        } else {
            try container.encodeNil(forKey: key(.metricsListen))
        }
        try container.encode(persistentPeers, forKey: key(.persistentPeers))
        try container.encode(observers, forKey: key(.observers))
        if let keyLog {
            try container.encode(keyLog, forKey: key(.keyLog))
        } else {
            try container.encodeNil(forKey: key(.keyLog))
        }
        try container.encode(timeouts, forKey: key(.timeouts))
        try container.encode(mempool, forKey: key(.mempool))
        try container.encode(blockMaxTransactions, forKey: key(.blockMaxTransactions))
        try container.encode(blockMaxBytes, forKey: key(.blockMaxBytes))
        try container.encode(logLevel, forKey: key(.logLevel))
        try container.encode(recordReplicas, forKey: key(.recordReplicas))
    }
}

extension NodeConfig.Timeouts {
    static let members = ["propose_ms", "prevote_ms", "precommit_ms", "delta_ms", "cap_ms", "commit_ms"]

    public init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, members: Self.members)
        self.init()
        if let value = try object.optionalCount("propose_ms") { proposeMs = value }
        if let value = try object.optionalCount("prevote_ms") { prevoteMs = value }
        if let value = try object.optionalCount("precommit_ms") { precommitMs = value }
        if let value = try object.optionalCount("delta_ms") { deltaMs = value }
        if let value = try object.optionalCount("cap_ms") { capMs = value }
        if let value = try object.optionalCount("commit_ms") { commitMs = value }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        for (name, value) in zip(Self.members, [proposeMs, prevoteMs, precommitMs, deltaMs, capMs, commitMs]) {
            try container.encode(value, forKey: ConfigKey(name))
        }
    }
}

extension NodeConfig.MempoolLimits {
    static let members = ["max_transactions", "max_bytes", "max_per_signer"]

    public init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, members: Self.members)
        self.init()
        if let value = try object.optional(Int.self, "max_transactions") { maxTransactions = value }
        if let value = try object.optional(Int.self, "max_bytes") { maxBytes = value }
        if let value = try object.optional(Int.self, "max_per_signer") { maxPerSigner = value }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        for (name, value) in zip(Self.members, [maxTransactions, maxBytes, maxPerSigner]) {
            try container.encode(value, forKey: ConfigKey(name))
        }
    }
}

extension NodeConfig.LogLevel {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw error.located(source: "", member: memberPath(decoder.codingPath))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
