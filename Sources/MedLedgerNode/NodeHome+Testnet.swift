import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The homes of a local test network: `DIR/node0` to `DIR/node{N-1}`, one genesis for all.
public struct Testnet: Sendable {
    /// One node of the network.
    public struct Node: Sendable {
        public let index: Int
        public let home: NodeHome
        public let card: FacilityCard
        public let config: NodeConfig
    }

    public let directory: String
    public let genesis: Genesis
    public let nodes: [Node]

    public static let nodeCount: ClosedRange<Int> = 1...64
    public static let defaultBasePort: UInt16 = 26600
    /// Every node's validator power.
    public static let power: UInt64 = 10
    /// Node i's ports are `basePort + portStride * i` (p2p), + 1 (client), + 2 (metrics).
    public static let portStride = 10

    /// Facility names and kinds, in turn; past the fourth node they repeat with a number.
    static let facilities: [(String, FacilityKind)] = [
        ("General Hospital", .hospital), ("Dental Clinic", .dentalClinic), ("Diagnostic Lab", .laboratory),
        ("Family Practice", .familyPractice),
    ]

    /// The name and kind of node `index`: General Hospital, Dental Clinic, Diagnostic Lab, Family
    /// Practice, General Hospital 2, …
    public static func facility(_ index: Int) -> (name: String, kind: FacilityKind) {
        let (name, kind) = facilities[index % facilities.count]
        let round = index / facilities.count
        return (round == 0 ? name : "\(name) \(round + 1)", kind)
    }

    /// Creates the homes, keys, genesis and configs of an `nodes`-node network in `directory`.
    ///
    /// Node i listens on `host:(basePort + 10i)` (p2p), `+1` (client) and `+2` (metrics), and
    /// lists every other node as a persistent peer. With `basePort` 0 every listener is on port 0
    /// and no peers are listed: the running nodes write their ports to `ports.json`, and a cluster
    /// tool wires the peers (through `MEDLEDGER_PEERS`).
    ///
    /// - Parameter genesisTime: ms since the epoch; now if nil.
    /// - Throws: ``NodeConfigError`` for a bad argument or if any `nodeI` directory exists, before
    ///   anything is written.
    @discardableResult
    public static func create(
        nodes count: Int, in directory: String, chainID: String = NodeConfig.defaultChainID,
        basePort: UInt16 = defaultBasePort, host: String = "127.0.0.1", genesisTime: UInt64? = nil,
        config template: NodeConfig = NodeConfig()
    ) throws(NodeConfigError) -> Testnet {
        guard nodeCount.contains(count) else {
            throw NodeConfigError(
                .invalidValue, source: "--nodes", value: String(count),
                problem: "a testnet has \(nodeCount.lowerBound) to \(nodeCount.upperBound) nodes",
                fix: "give a number from \(nodeCount.lowerBound) to \(nodeCount.upperBound)")
        }
        let probe: HostPort
        do {
            probe = try HostPort(parsing: host.contains(":") ? "[\(host)]:0" : "\(host):0")
        } catch {
            throw NodeConfigError(
                .invalidValue, source: "--host", value: host, problem: "not a host name or IP address",
                fix: "give an address such as 127.0.0.1")
        }
        let lastPort = Int(basePort) + portStride * (count - 1) + 2
        guard basePort == 0 || lastPort <= 65535 else {
            throw NodeConfigError(
                .invalidValue, source: "--base-port", value: String(basePort),
                problem: "\(count) nodes need ports up to \(lastPort), above 65535",
                fix: "give a base port up to \(65535 - portStride * (count - 1) - 2), or 0 for ports the system picks")
        }
        guard ChainID.isValid(chainID) else {
            throw NodeConfigError(
                .invalidValue, source: "--chain-id", value: chainID,
                problem: "a chain id is 1 to 64 characters of a-z 0-9 - . _", fix: "choose one such as medledger-local")
        }
        let homes = (0..<count).map { NodeHome(Path.join(directory, "node\($0)")) }
        let fs = PosixFileSystem()
        if let taken = homes.first(where: { fs.exists($0.path) }) {
            throw NodeConfigError(
                .homeExists, source: taken.path, problem: "this node's home already exists",
                fix: "choose another --dir, or delete \(directory) if you are sure nothing in it is needed")
        }
        func address(_ index: Int, _ offset: Int) -> HostPort {
            HostPort(host: probe.host, port: basePort == 0 ? 0 : UInt16(Int(basePort) + portStride * index + offset))
        }

        var cards: [FacilityCard] = []
        var configs: [NodeConfig] = []
        for (index, home) in homes.enumerated() {
            var config = template
            config.p2pListen = address(index, 0)
            config.clientListen = address(index, 1)
            config.metricsListen = address(index, 2)
            let (name, kind) = facility(index)
            try NodeHome.create(
                at: home.path, name: name, kind: kind, chainID: chainID, power: power,
                p2pAddress: basePort == 0 ? nil : address(index, 0), config: config)
            cards.append(try home.loadFacilityCard())
            configs.append(try home.loadConfig(environment: [:]))
        }

        let time = genesisTime ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let genesis: Genesis
        do {
            genesis = try Genesis(chainID: chainID, genesisTime: time, facilities: cards.map(\.facility))
        } catch {
            throw NodeConfigError(.genesis, source: directory, problem: error.reason, fix: "")
        }
        let genesisBytes = Array(genesis.json.prettyDescription.utf8) + [0x0A]
        var nodes: [Node] = []
        for (index, home) in homes.enumerated() {
            try home.writeGenesis(bytes: genesisBytes)
            var config = configs[index]
            config.persistentPeers = cards.enumerated().compactMap { other, card in
                other == index ? nil : card.peerAddress
            }
            try home.writeConfig(config)
            nodes.append(Node(index: index, home: home, card: cards[index], config: config))
        }
        return Testnet(directory: directory, genesis: genesis, nodes: nodes)
    }
}
