import ArgumentParser
import MedLedgerNode

/// `medledger testnet`: the homes, keys, genesis and configs of a local cluster.
struct TestnetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testnet",
        abstract: "Create the homes of a local test network: DIR/node0 to DIR/node{N-1}, one genesis for all.",
        discussion: """
            Facilities are named and kinded in turn: General Hospital, Dental Clinic, Diagnostic Lab, Family \
            Practice, then again with a number. All are validators with power 10. Node i listens on \
            HOST:(BASE+10i) for peers, +1 for clients and +2 for metrics, and lists every other node as a \
            persistent peer. With --base-port 0 every listener uses port 0 (the system picks; a running node \
            writes its ports to ports.json) and no peers are listed: a cluster tool wires them when it starts \
            the nodes, through MEDLEDGER_PEERS.
            """
    )

    @Option(help: "How many nodes (1 to 64).")
    var nodes: Int

    @Option(help: "The directory to create the homes in.")
    var dir: String

    @Option(help: "The chain id.")
    var chainID: String = NodeConfig.defaultChainID

    @Option(help: "The first node's p2p port; 0 puts every listener on port 0.")
    var basePort: UInt16 = Testnet.defaultBasePort

    @Option(help: "The address every node listens on and is dialled at.")
    var host: String = "127.0.0.1"

    func run() throws {
        let testnet: Testnet
        do {
            testnet = try Testnet.create(nodes: nodes, in: dir, chainID: chainID, basePort: basePort, host: host)
        } catch {
            printError(error.description)
            throw ExitCode.failure
        }
        print("Created a \(nodes)-node testnet for chain \(chainID) in \(dir) (genesis \(testnet.genesis.hash.hex.prefix(16))…)")
        print("")
        print(Self.table(testnet))
        if basePort == 0 {
            print("")
            print("Every listener is on port 0 and no peers are listed: start the nodes with a cluster tool that reads")
            print("each node's ports.json and passes MEDLEDGER_PEERS.")
        }
        print("")
        print("Start a node: medledger node --home \(testnet.nodes[0].home.path)")
    }

    static func table(_ testnet: Testnet) -> String {
        var rows = [["node", "facility", "kind", "p2p", "client", "metrics", "node key"]]
        for node in testnet.nodes {
            rows.append([
                "node\(node.index)", node.card.name, node.card.kind.name, node.config.p2pListen.description,
                node.config.clientListen.description, node.config.metricsListen?.description ?? "off",
                String(node.card.nodeKey.hex.prefix(16)) + "…",
            ])
        }
        var widths = Array(repeating: 0, count: rows[0].count)
        for row in rows { for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) } }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
