#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension NodeConfig {
    /// One `MEDLEDGER_*` variable that overrides a setting of `config.json`.
    public struct EnvironmentVariable: Sendable, Hashable {
        public let name: String
        /// The `config.json` member it overrides.
        public let member: String
        /// What it holds, for `--help` texts and the README.
        public let summary: String
    }

    /// Every override ``load(home:environment:)`` applies, in the order it applies them.
    public static let environmentVariables: [EnvironmentVariable] = [
        .init(name: "MEDLEDGER_MONIKER", member: "moniker", summary: "the node's name in logs and metrics"),
        .init(name: "MEDLEDGER_P2P_LISTEN", member: "p2p_listen", summary: "host:port of the peer port (port 0: any)"),
        .init(name: "MEDLEDGER_CLIENT_LISTEN", member: "client_listen", summary: "host:port of the client API"),
        .init(
            name: "MEDLEDGER_METRICS_LISTEN", member: "metrics_listen",
            summary: "host:port of the metrics endpoint; empty turns it off"),
        .init(
            name: "MEDLEDGER_PEERS", member: "persistent_peers",
            summary: "comma-separated NODEKEYHEX@host:port; replaces the file's list (empty: none)"),
        .init(
            name: "MEDLEDGER_OBSERVERS", member: "observers",
            summary: "comma-separated node keys admitted on the peer port; replaces the file's list"),
        .init(
            name: "MEDLEDGER_KEY_LOG", member: "key_log",
            summary: "path of the secure-channel key log (relative: to the home); empty: none"),
        .init(name: "MEDLEDGER_LOG_LEVEL", member: "log_level", summary: LogLevel.allCases.map(\.rawValue).joined(separator: "|")),
        .init(name: "MEDLEDGER_TIMEOUT_PROPOSE_MS", member: "timeouts.propose_ms", summary: "propose timeout, ms"),
        .init(name: "MEDLEDGER_TIMEOUT_PREVOTE_MS", member: "timeouts.prevote_ms", summary: "prevote timeout, ms"),
        .init(name: "MEDLEDGER_TIMEOUT_PRECOMMIT_MS", member: "timeouts.precommit_ms", summary: "precommit timeout, ms"),
        .init(name: "MEDLEDGER_COMMIT_WAIT_MS", member: "timeouts.commit_ms", summary: "wait after a commit before the next height, ms"),
        .init(
            name: "MEDLEDGER_BLOCK_MAX_TRANSACTIONS", member: "block_max_transactions",
            summary: "most transactions in a block this node proposes"),
        .init(
            name: "MEDLEDGER_RECORD_REPLICAS", member: "record_replicas",
            summary: "facilities after a record's custodian that keep its ciphertext (the same on every node)"),
    ]

    /// The process's environment.
    public static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    /// Reads `config.json` in `home`, applies the `MEDLEDGER_*` overrides in `environment`, and
    /// validates the result.
    ///
    /// - Throws: ``NodeConfigError`` naming the file (and member) or the variable at fault.
    public static func load(home: NodeHome, environment: [String: String] = processEnvironment) throws(NodeConfigError)
        -> NodeConfig
    {
        let path = home.configPath
        let bytes = try home.readFile(path, what: "the node's configuration", fix: "create the home with `medledger init`")
        let config = try NodeJSON.decode(NodeConfig.self, from: bytes, source: path)
        return try config.applying(environment: environment, fileName: path)
    }

    /// ``load(home:environment:)`` for the home at `path`.
    public static func load(home path: String, environment: [String: String] = processEnvironment) throws(NodeConfigError)
        -> NodeConfig
    {
        try load(home: NodeHome(path), environment: environment)
    }

    /// This configuration with the `MEDLEDGER_*` overrides in `environment` applied, validated.
    /// A problem in a setting no variable touched is reported against `fileName`.
    public func applying(environment: [String: String], fileName: String = "config.json") throws(NodeConfigError)
        -> NodeConfig
    {
        var config = self
        var overridden: [String: String] = [:]  // member -> variable
        for variable in Self.environmentVariables {
            guard let text = environment[variable.name] else { continue }
            overridden[variable.member] = variable.name
            do {
                try config.apply(variable.member, text)
            } catch {
                var located = error
                located.source = variable.name
                located.member = nil
                if located.value == nil { located.value = text }
                throw located
            }
        }
        do {
            try config.validate()
        } catch {
            var located = error
            if let member = error.member, let variable = overridden[member] {
                located.source = variable
                located.member = nil
            } else {
                located.source = fileName
            }
            throw located
        }
        return config
    }

    /// The `MEDLEDGER_*` variables in `environment` that are not overrides: most likely typos,
    /// which the node logs as warnings (other tools may use the prefix, so they are not errors).
    public static func unrecognisedVariables(in environment: [String: String]) -> [String] {
        let known = Set(environmentVariables.map(\.name))
        return environment.keys.filter { $0.hasPrefix("MEDLEDGER_") && !known.contains($0) }.sorted()
    }

    private mutating func apply(_ member: String, _ text: String) throws(NodeConfigError) {
        switch member {
        case "moniker": moniker = text
        case "p2p_listen": p2pListen = try HostPort(parsing: text)
        case "client_listen": clientListen = try HostPort(parsing: text)
        case "metrics_listen": metricsListen = text.isEmpty ? nil : try HostPort(parsing: text)
        case "persistent_peers":
            persistentPeers = []
            for item in Self.listItems(text) { persistentPeers.append(try PeerAddress(parsing: item)) }
        case "observers":
            observers = []
            for item in Self.listItems(text) { observers.append(try Self.parseKey(item, what: "an observer's node key")) }
        case "key_log": keyLog = text.isEmpty ? nil : text
        case "log_level": logLevel = try LogLevel(parsing: text)
        case "timeouts.propose_ms": timeouts.proposeMs = try Self.parseCount(text, unit: "milliseconds")
        case "timeouts.prevote_ms": timeouts.prevoteMs = try Self.parseCount(text, unit: "milliseconds")
        case "timeouts.precommit_ms": timeouts.precommitMs = try Self.parseCount(text, unit: "milliseconds")
        case "timeouts.commit_ms": timeouts.commitMs = try Self.parseCount(text, unit: "milliseconds")
        case "block_max_transactions": blockMaxTransactions = Int(try Self.parseCount(text, unit: "transactions"))
        case "record_replicas": recordReplicas = Int(try Self.parseCount(text, unit: "facilities"))
        default: preconditionFailure("no override for \(member)")
        }
    }

    /// Comma-separated items, spaces around them trimmed, empty items skipped.
    static func listItems(_ text: String) -> [String] {
        text.split(separator: ",").map { item in
            String(item.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
        }.filter { !$0.isEmpty }
    }

    static func parseCount(_ text: String, unit: String) throws(NodeConfigError) -> UInt64 {
        guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt64(text)
        else {
            throw NodeConfigError(
                .invalidValue, value: text, problem: "not a whole number", fix: "give a number of \(unit), digits only")
        }
        return value
    }
}
