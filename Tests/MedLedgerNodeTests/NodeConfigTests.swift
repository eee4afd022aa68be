import Foundation
import MedLedgerNode
import Testing

/// A scratch directory removed when the value goes out of use.
final class ScratchDirectory {
    let path: String

    init(_ label: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-\(label)-\(UUID().uuidString)").path
    }

    func child(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A home directory holding only `config.json` with `text`.
func homeWithConfig(_ text: String, scratch: ScratchDirectory) throws -> NodeHome {
    try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
    let home = NodeHome(scratch.path)
    try Data(text.utf8).write(to: URL(fileURLWithPath: home.configPath))
    return home
}

let keyA = String(repeating: "ab", count: 32)
let keyB = String(repeating: "0c", count: 32)

@Suite("NodeConfig: config.json and MEDLEDGER_* overrides")
struct NodeConfigTests {
    @Test("every setting has the documented default")
    func defaults() {
        let config = NodeConfig()
        #expect(config.version == 1)
        #expect(config.chainID == "medledger-local")
        #expect(config.p2pListen.description == "0.0.0.0:26656")
        #expect(config.clientListen.description == "127.0.0.1:26657")
        #expect(config.metricsListen?.description == "127.0.0.1:26660")
        #expect(config.persistentPeers.isEmpty && config.observers.isEmpty && config.keyLog == nil)
        #expect(config.timeouts.proposeMs == 3000 && config.timeouts.prevoteMs == 1000)
        #expect(config.timeouts.precommitMs == 1000 && config.timeouts.deltaMs == 500 && config.timeouts.capMs == 30_000)
        #expect(config.mempool.maxTransactions == 10_000 && config.mempool.maxBytes == 33_554_432)
        #expect(config.mempool.maxPerSigner == 256)
        #expect(config.blockMaxTransactions == 1000 && config.blockMaxBytes == 4 * 1024 * 1024)
        #expect(config.logLevel == .info)
        #expect(throws: Never.self) { try config.validate() }
    }

    @Test("the defaults round-trip through config.json, and so does every setting changed")
    func roundTrip() throws {
        let scratch = ScratchDirectory("config-roundtrip")
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        let home = NodeHome(scratch.path)
        try home.writeConfig(NodeConfig())
        #expect(try home.loadConfig(environment: [:]) == NodeConfig())

        var changed = NodeConfig()
        changed.moniker = "St Mary's"
        changed.chainID = "medledger-prod.1"
        changed.p2pListen = try HostPort(parsing: "[::1]:0")
        changed.clientListen = HostPort(host: "10.0.0.5", port: 9000)
        changed.metricsListen = nil
        changed.persistentPeers = [try PeerAddress(parsing: "\(keyA)@peer.example:26656")]
        changed.observers = [keyB]
        changed.keyLog = "keylog.txt"
        changed.timeouts.proposeMs = 1500
        changed.timeouts.capMs = 9000
        changed.mempool.maxPerSigner = 16
        changed.blockMaxTransactions = 50
        changed.blockMaxBytes = 1 << 20
        changed.logLevel = .debug
        try home.writeConfig(changed)
        #expect(try home.loadConfig(environment: [:]) == changed)
        let text = try String(contentsOfFile: home.configPath, encoding: .utf8)
        #expect(text.contains("\"metrics_listen\": null"), "a disabled endpoint is written as null, not left out")
        #expect(text.hasPrefix("{\n  \"version\": 1,"))
    }

    @Test("a file holding only the version gives every default")
    func minimalFile() throws {
        let scratch = ScratchDirectory("config-minimal")
        let home = try homeWithConfig(#"{"version": 1}"#, scratch: scratch)
        #expect(try NodeConfig.load(home: home, environment: [:]) == NodeConfig())
    }

    @Test("peers may be written compactly or as objects; keys are kept in lowercase")
    func peerForms() throws {
        let scratch = ScratchDirectory("config-peers")
        let upper = keyA.uppercased()
        let home = try homeWithConfig(
            #"{"version": 1, "persistent_peers": ["\#(upper)@a.example:1", {"node_key": "\#(keyB)", "address": "[fd00::1]:2"}]}"#,
            scratch: scratch)
        let config = try NodeConfig.load(home: home, environment: [:])
        #expect(config.persistentPeers.map(\.description) == ["\(keyA)@a.example:1", "\(keyB)@[fd00::1]:2"])
        #expect(config.persistentPeers[1].address.host == "fd00::1")
    }

    static let overrides: [(variable: String, value: String, check: @Sendable (NodeConfig) -> Bool)] = [
        ("MEDLEDGER_MONIKER", "lab-2", { $0.moniker == "lab-2" }),
        ("MEDLEDGER_P2P_LISTEN", "127.0.0.1:0", { $0.p2pListen == HostPort(host: "127.0.0.1", port: 0) }),
        ("MEDLEDGER_CLIENT_LISTEN", "0.0.0.0:7000", { $0.clientListen == HostPort(host: "0.0.0.0", port: 7000) }),
        ("MEDLEDGER_METRICS_LISTEN", "[::]:9100", { $0.metricsListen == HostPort(host: "::", port: 9100) }),
        ("MEDLEDGER_METRICS_LISTEN", "", { $0.metricsListen == nil }),
        (
            "MEDLEDGER_PEERS", "\(keyA)@h1:1, \(keyB)@h2:2,",
            { $0.persistentPeers.map(\.description) == ["\(keyA)@h1:1", "\(keyB)@h2:2"] }
        ),
        ("MEDLEDGER_PEERS", "", { $0.persistentPeers.isEmpty }),
        ("MEDLEDGER_OBSERVERS", "\(keyA),\(keyB.uppercased())", { $0.observers == [keyA, keyB] }),
        ("MEDLEDGER_OBSERVERS", "", { $0.observers.isEmpty }),
        ("MEDLEDGER_KEY_LOG", "/var/log/keys.txt", { $0.keyLog == "/var/log/keys.txt" }),
        ("MEDLEDGER_KEY_LOG", "", { $0.keyLog == nil }),
        ("MEDLEDGER_LOG_LEVEL", "TRACE", { $0.logLevel == .trace }),
        ("MEDLEDGER_TIMEOUT_PROPOSE_MS", "2500", { $0.timeouts.proposeMs == 2500 }),
        ("MEDLEDGER_TIMEOUT_PREVOTE_MS", "700", { $0.timeouts.prevoteMs == 700 }),
        ("MEDLEDGER_TIMEOUT_PRECOMMIT_MS", "800", { $0.timeouts.precommitMs == 800 }),
        ("MEDLEDGER_BLOCK_MAX_TRANSACTIONS", "64", { $0.blockMaxTransactions == 64 }),
        ("MEDLEDGER_COMMIT_WAIT_MS", "250", { $0.timeouts.commitMs == 250 }),
        ("MEDLEDGER_RECORD_REPLICAS", "3", { $0.recordReplicas == 3 }),
    ]

    @Test("each MEDLEDGER_* variable overrides its setting", arguments: 0..<overrides.count)
    func override(_ index: Int) throws {
        let (variable, value, check) = Self.overrides[index]
        let scratch = ScratchDirectory("config-env")
        // The file sets something else for each, so the override must win over it.
        let home = try homeWithConfig(
            #"{"version": 1, "key_log": "file.log", "observers": ["\#(keyB)"], "metrics_listen": "1.2.3.4:5", "persistent_peers": ["\#(keyB)@x:9"]}"#,
            scratch: scratch)
        let config = try NodeConfig.load(home: home, environment: [variable: value])
        #expect(check(config), "\(variable)=\(value) gave \(config)")
    }

    @Test("every override variable is listed, and unknown MEDLEDGER_* variables are reported")
    func variableList() {
        let names = NodeConfig.environmentVariables.map(\.name)
        #expect(Set(names) == Set(Self.overrides.map(\.variable)))
        let unknown = NodeConfig.unrecognisedVariables(in: ["MEDLEDGER_PEER": "x", "MEDLEDGER_PEERS": "", "HOME": "/"])
        #expect(unknown == ["MEDLEDGER_PEER"])
    }

    static let badVariables: [(variable: String, value: String, says: [String])] = [
        ("MEDLEDGER_P2P_LISTEN", "0.0.0.0:70000", ["above 65535", "from 0 to 65535"]),
        ("MEDLEDGER_P2P_LISTEN", "0.0.0.0", ["no :port", "host:port"]),
        ("MEDLEDGER_CLIENT_LISTEN", "::1:80", ["IPv6 address needs brackets", "[::1]:80"]),
        ("MEDLEDGER_CLIENT_LISTEN", "local host:80", ["not a host name"]),
        ("MEDLEDGER_METRICS_LISTEN", "x:port", ["not a number", "from 0 to 65535"]),
        ("MEDLEDGER_PEERS", "\(keyA)h1:1", ["no @", "NODEKEYHEX@host:port"]),
        ("MEDLEDGER_PEERS", "abc@h1:1", ["3 characters long, not 64 hex digits", "facility.json"]),
        ("MEDLEDGER_PEERS", "\(keyA)@h1:0", ["port 0"]),
        ("MEDLEDGER_OBSERVERS", String(repeating: "g", count: 64), ["not a hex digit", "64-hex-digit"]),
        ("MEDLEDGER_LOG_LEVEL", "verbose", ["not a log level", "trace, debug, info, notice, warning, error, critical"]),
        ("MEDLEDGER_TIMEOUT_PROPOSE_MS", "3s", ["not a whole number", "milliseconds"]),
        ("MEDLEDGER_TIMEOUT_PREVOTE_MS", "0", ["1 to 600000 ms"]),
        ("MEDLEDGER_TIMEOUT_PRECOMMIT_MS", "40000", ["above timeouts.cap_ms (30000)", "raise timeouts.cap_ms"]),
        ("MEDLEDGER_BLOCK_MAX_TRANSACTIONS", "20000", ["out of range", "1 to 10000"]),
        ("MEDLEDGER_RECORD_REPLICAS", "256", ["out of range", "0 to 255"]),
        ("MEDLEDGER_MONIKER", "", ["1 to 64 bytes"]),
    ]

    @Test("a bad variable is an error naming the variable, the value and the fix", arguments: 0..<badVariables.count)
    func badVariable(_ index: Int) throws {
        let (variable, value, says) = Self.badVariables[index]
        let scratch = ScratchDirectory("config-badenv")
        let home = try homeWithConfig(#"{"version": 1}"#, scratch: scratch)
        let error = try #require(throws: NodeConfigError.self) {
            try NodeConfig.load(home: home, environment: [variable: value])
        }
        #expect(error.source == variable)
        #expect(error.description.hasPrefix(variable + ": "), "\(error)")
        #expect(error.description.contains("\"\(value)\""), "the message quotes the value: \(error)")
        for fragment in says { #expect(error.description.contains(fragment), "\(error)") }
    }

    static let badFiles: [(json: String, code: NodeConfigError.Code, member: String, says: [String])] = [
        (#"{"version": 1, "p2p_listen": "0.0.0.0:99999"}"#, .invalidValue, "p2p_listen", ["above 65535"]),
        (
            #"{"version": 1, "persistent_peers": ["\#(keyA)@a:1", {"node_key": "xyz", "address": "b:2"}]}"#,
            .invalidValue, "persistent_peers[1].node_key", ["not 64 hex digits"]
        ),
        (
            #"{"version": 1, "persistent_peers": [{"node_key": "\#(keyA)", "address": "b"}]}"#, .invalidValue,
            "persistent_peers[0].address", ["no :port"]
        ),
        (#"{"version": 1, "observers": ["\#(keyA)", "00"]}"#, .invalidValue, "observers[1]", ["not 64 hex digits"]),
        (#"{"version": 1, "log_level": "loud"}"#, .invalidValue, "log_level", ["trace, debug"]),
        (#"{"version": 1, "timeouts": {"propose_ms": -5}}"#, .malformed, "timeouts.propose_ms", ["whole number"]),
        (#"{"version": 1, "block_max_bytes": "big"}"#, .malformed, "block_max_bytes", ["whole number"]),
        (#"{"version": 1, "mempool": {"max_bytes": 10}}"#, .invalidValue, "mempool.max_bytes", ["65536 to"]),
        (#"{"version": 1, "chain_id": "Med Ledger"}"#, .invalidValue, "chain_id", ["a-z 0-9", "genesis.json"]),
        (#"{"version": 2}"#, .unsupportedVersion, "version", ["version 1 only", "\"version\": 1"]),
        (#"{"moniker": "x"}"#, .missingMember, "version", ["add \"version\": 1"]),
        (#"{"version": 1, "p2p_lisen": "0.0.0.0:1"}"#, .unknownMember, "p2p_lisen", ["did you mean \"p2p_listen\""]),
        (#"{"version": 1, "timeouts": {"propose": 10}}"#, .unknownMember, "timeouts.propose", ["did you mean \"propose_ms\""]),
        (
            #"{"version": 1, "persistent_peers": [{"node_key": "\#(keyA)", "address": "b:2", "port": 3}]}"#,
            .unknownMember, "persistent_peers[0].port", ["remove it"]
        ),
    ]

    @Test("a bad config.json is an error naming the file, the member and the fix", arguments: 0..<badFiles.count)
    func badFile(_ index: Int) throws {
        let (json, code, member, says) = Self.badFiles[index]
        let scratch = ScratchDirectory("config-badfile")
        let home = try homeWithConfig(json, scratch: scratch)
        let error = try #require(throws: NodeConfigError.self) { try NodeConfig.load(home: home, environment: [:]) }
        #expect(error.code == code, "\(error)")
        #expect(error.source == home.configPath)
        #expect(error.member == member, "\(error)")
        #expect(error.description.hasPrefix("\(home.configPath): \(member)"), "\(error)")
        for fragment in says { #expect(error.description.contains(fragment), "\(error)") }
    }

    @Test("a file that is not JSON, or is missing, is an error naming the file")
    func unreadable() throws {
        let scratch = ScratchDirectory("config-syntax")
        let home = try homeWithConfig(#"{"version": 1,"#, scratch: scratch)
        let syntax = try #require(throws: NodeConfigError.self) { try NodeConfig.load(home: home, environment: [:]) }
        #expect(syntax.code == .malformed)
        #expect(syntax.description.contains(home.configPath) && syntax.description.contains("not valid JSON"))

        let missing = try #require(throws: NodeConfigError.self) {
            try NodeConfig.load(home: scratch.child("nowhere"), environment: [:])
        }
        #expect(missing.code == .unreadable)
        #expect(missing.description.contains("nowhere/config.json") && missing.description.contains("medledger init"))
    }

    @Test("an override fixes nothing it does not touch: a bad file value is still reported against the file")
    func fileErrorWithOverrides() throws {
        let scratch = ScratchDirectory("config-mixed")
        let home = try homeWithConfig(#"{"version": 1, "timeouts": {"cap_ms": 500}}"#, scratch: scratch)
        let error = try #require(throws: NodeConfigError.self) {
            try NodeConfig.load(home: home, environment: ["MEDLEDGER_MONIKER": "ok"])
        }
        #expect(error.member == "timeouts.propose_ms" && error.source == home.configPath, "\(error)")
    }

    @Test("the settings convert to the consensus machine's timeouts and the mempool's limits")
    func conversions() {
        var config = NodeConfig()
        config.timeouts.proposeMs = 1234
        config.timeouts.capMs = 5000
        config.mempool.maxPerSigner = 7
        #expect(config.timeouts.consensusTimeouts.propose == 1234)
        #expect(config.timeouts.consensusTimeouts.cap == 5000)
        #expect(config.mempool.limits.maxPerSigner == 7)
        #expect(config.mempool.limits.maxTransactions == 10_000)
    }

    @Test("addresses: brackets for IPv6, the compact peer form, and what is refused")
    func addresses() throws {
        #expect(try HostPort(parsing: "[::1]:26656").description == "[::1]:26656")
        #expect(try HostPort(parsing: "node-0.cluster.local:1").host == "node-0.cluster.local")
        #expect(try HostPort(parsing: "0.0.0.0:0").port == 0)
        for bad in ["", ":1", "h:", "h:-1", "h:123456", "[::1]", "[zz]:1", "h:1:2"] {
            #expect(throws: NodeConfigError.self, "\(bad)") { try HostPort(parsing: bad) }
        }
        let peer = try PeerAddress(parsing: "\(keyA)@[fe80::1%eth0]:26656")
        #expect(peer.key.hex == keyA && peer.address.port == 26656)
    }
}
